package tiny

import "github.com/raftgram/raftgram/tl"

// Policy funcs named by TestGolden's tinyPolicy (hand-written, like tl/api/layers_policy.go).

func oldCount(x *Item) int32 { return int32(len(x.Pts)) }

func peerNewAsChat(o tl.Object) tl.Object {
	if p, ok := o.(*PeerNew); ok {
		return &PeerChat{ChatID: p.ID}
	}
	return nil
}
