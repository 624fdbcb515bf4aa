package upload

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/raftgram/raftgram/files"
	"github.com/raftgram/raftgram/node"
)

// Internal RPC methods of the chunk store (node.FirstDomainRPC numbering: 80-89 are files').
const (
	rpcPutShard byte = 80 // body: an encoded shard; answer: empty
	rpcShards   byte = 81 // body: key; answer: count u32, then (length u32, encoded shard) each
	rpcTrim     byte = 82 // body: key, gen u64; answer: empty
)

const keyLen = 8 + 8 + 4

func appendKey(b []byte, k files.Key) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(k.Owner))
	b = binary.BigEndian.AppendUint64(b, uint64(k.File))
	return binary.BigEndian.AppendUint32(b, uint32(k.Part))
}

func readKey(b []byte) (files.Key, error) {
	if len(b) < keyLen {
		return files.Key{}, errors.New("files rpc: short key")
	}
	return files.Key{Owner: int64(binary.BigEndian.Uint64(b)), File: int64(binary.BigEndian.Uint64(b[8:])),
		Part: int32(binary.BigEndian.Uint32(b[16:]))}, nil
}

// peerNode is another member's share of the store, over internal RPC.
type peerNode struct {
	n    *node.Node
	peer node.Peer
}

func (p peerNode) ID() string { return p.peer.ID }

func (p peerNode) PutShard(ctx context.Context, encoded []byte) error {
	_, err := p.n.CallRPC(ctx, p.peer.Addr, rpcPutShard, encoded)
	return err
}

func (p peerNode) Shards(ctx context.Context, k files.Key) ([][]byte, error) {
	b, err := p.n.CallRPC(ctx, p.peer.Addr, rpcShards, appendKey(nil, k))
	if err != nil {
		return nil, err
	}
	return decodeShardList(b)
}

func (p peerNode) Trim(ctx context.Context, k files.Key, gen uint64) error {
	_, err := p.n.CallRPC(ctx, p.peer.Addr, rpcTrim, binary.BigEndian.AppendUint64(appendKey(nil, k), gen))
	return err
}

func (h *Domain) servePut(_ context.Context, body []byte) ([]byte, error) {
	return nil, h.local.Put(body)
}

func (h *Domain) serveShards(_ context.Context, body []byte) ([]byte, error) {
	k, err := readKey(body)
	if err != nil {
		return nil, err
	}
	shards, skipped, err := h.local.Shards(k)
	if err != nil {
		return nil, err
	}
	if skipped > 0 {
		h.log.Warn("damaged shards skipped", "key", k, "count", skipped)
	}
	return encodeShardList(shards), nil
}

func (h *Domain) serveTrim(_ context.Context, body []byte) ([]byte, error) {
	k, err := readKey(body)
	if err != nil || len(body) != keyLen+8 {
		return nil, errors.Join(err, errors.New("files rpc: bad trim request"))
	}
	return nil, h.local.Trim(k, binary.BigEndian.Uint64(body[keyLen:]))
}

func encodeShardList(shards [][]byte) []byte {
	n := 4
	for _, s := range shards {
		n += 4 + len(s)
	}
	b := binary.BigEndian.AppendUint32(make([]byte, 0, n), uint32(len(shards)))
	for _, s := range shards {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

// decodeShardList splits an rpcShards answer; the shards alias b (each is checked by files.DecodeShard later).
func decodeShardList(b []byte) ([][]byte, error) {
	if len(b) < 4 {
		return nil, errors.New("files rpc: short shard list")
	}
	count := binary.BigEndian.Uint32(b)
	b = b[4:]
	if uint64(count)*4 > uint64(len(b)) {
		return nil, fmt.Errorf("files rpc: %d shards in %d bytes", count, len(b))
	}
	out := make([][]byte, 0, count)
	for range count {
		if len(b) < 4 {
			return nil, errors.New("files rpc: truncated shard list")
		}
		n := binary.BigEndian.Uint32(b)
		if uint64(n) > uint64(len(b)-4) {
			return nil, errors.New("files rpc: truncated shard")
		}
		out = append(out, b[4:4+n])
		b = b[4+n:]
	}
	if len(b) != 0 {
		return nil, errors.New("files rpc: trailing bytes after shard list")
	}
	return out, nil
}
