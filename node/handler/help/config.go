package help

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
)

// ThisDC is the one DC a raftgram cluster is: every node serves DC 1, so a client may use any of them.
const ThisDC = 1

const (
	// configTTL is how long a client may keep help.getConfig's answer (Config.Expires).
	configTTL = time.Hour
	// dcCacheFull is how long a dc_options list that names every member is reused; dcCacheShort is for a list
	// missing a member (a node that has not published its address yet).
	dcCacheFull  = 2 * time.Second
	dcCacheShort = 250 * time.Millisecond
	// dcLoadTimeout bounds the reads behind the list; past it the last list (or this node alone) is used.
	dcLoadTimeout = 2 * time.Second
)

type dcCache struct {
	opts  []*api.DCOption // never mutated once built: shared by every answer
	until time.Time
}

// loadClientAddrs reads every member's published client addresses (one linearizable read per member).
func (h *Domain) loadClientAddrs(ctx context.Context) ([]node.ClientAddrs, int, error) {
	addrs, err := h.n.AllClientAddrs(ctx)
	return addrs, len(h.n.Peers()), err
}

// dcOptions returns the cluster's dc_options, cached briefly.
func (h *Domain) dcOptions(ctx context.Context) ([]*api.DCOption, error) {
	now := h.clock()
	h.mu.Lock()
	c := h.dcs
	h.mu.Unlock()
	if c.opts != nil && now.Before(c.until) {
		return c.opts, nil
	}
	lctx, cancel := context.WithTimeout(ctx, dcLoadTimeout)
	addrs, members, err := h.dcsLoad(lctx)
	cancel()
	if err != nil {
		if c.opts != nil {
			// Serve the last list, and keep serving it a short while before trying again, so that calls
			// during an election do not each wait for the read to time out.
			h.log.Warn("help.getConfig: client addresses unavailable, serving the last list", "err", err)
			h.mu.Lock()
			h.dcs.until = now.Add(dcCacheShort)
			h.mu.Unlock()
			return c.opts, nil
		}
		h.log.Warn("help.getConfig: client addresses unavailable, listing this node only", "err", err)
		addrs = nil
	}
	complete := err == nil && len(addrs) >= members
	addrs = withSelf(addrs, h.opts.ClientAddr)
	opts := BuildDCOptions(addrs, ThisDC)
	if len(opts) == 0 {
		return nil, fmt.Errorf("help.getConfig: no client address of any node is known (err: %v)", err)
	}
	ttl := dcCacheShort
	if complete {
		ttl = dcCacheFull
	}
	h.mu.Lock()
	h.dcs = dcCache{opts: opts, until: now.Add(ttl)}
	h.mu.Unlock()
	return opts, nil
}

// withSelf adds this node's own configured client address when it is concrete and missing from the list (the
// node has not published it yet): the client that asks is connected to it, so it must be listed.
func withSelf(addrs []node.ClientAddrs, self string) []node.ClientAddrs {
	host, port, err := net.SplitHostPort(self)
	if err != nil || port == "0" || host == "" {
		return addrs
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		return addrs
	}
	for _, a := range addrs {
		if a.TCP == self {
			return addrs
		}
	}
	return append(addrs[:len(addrs):len(addrs)], node.ClientAddrs{NodeID: "self", TCP: self, WS: self})
}

// BuildDCOptions turns the nodes' client addresses into dc_options of DC dc: for each node an option for the
// TCP transports and one for WebSocket (ws://ip:port/apiws). Telegram's dcOption has no WebSocket flag; the
// WebSocket option is marked this_port_only (a client must use exactly this port and not try others), the
// closest mark there is. It must not be tcpo_only: that tells clients to obfuscate with an MTProxy secret,
// which this server does not use (gotd refuses an option with tcpo_only and no secret). Addresses that are not
// a concrete IP and port are left out (a client cannot dial them).
func BuildDCOptions(addrs []node.ClientAddrs, dc int32) []*api.DCOption {
	var out []*api.DCOption
	for _, a := range addrs {
		if o := dcOption(a.TCP, dc); o != nil {
			out = append(out, o)
		}
		if a.WS == "" {
			continue
		}
		if o := dcOption(a.WS, dc); o != nil {
			o.ThisPortOnly = true
			out = append(out, o)
		}
	}
	return out
}

func dcOption(addr string, dc int32) *api.DCOption {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsUnspecified() {
		return nil
	}
	o := &api.DCOption{ID: dc, Port: int32(port)}
	if v4 := ip.To4(); v4 != nil {
		o.IPAddress = v4.String()
	} else {
		o.IPAddress, o.IPv6 = ip.String(), true
	}
	return o
}

// getConfig answers help.getConfig: this DC, every node's addresses, and the limits clients enforce locally
// (they match what the messages domain accepts: 4096 characters per message, 1024 per caption).
func (h *Domain) getConfig(ctx context.Context, _ *handler.Call, _ *api.HelpGetConfigRequest) (tl.Object, error) {
	opts, err := h.dcOptions(ctx)
	if err != nil {
		return nil, err
	}
	now := h.clock()
	return &api.Config{
		Date:                    int32(now.Unix()),
		Expires:                 int32(now.Add(configTTL).Unix()),
		ThisDC:                  ThisDC,
		DCOptions:               opts,
		DCTxtDomainName:         "",
		ChatSizeMax:             200,
		MegagroupSizeMax:        200000,
		ForwardedCountMax:       100,
		OnlineUpdatePeriodMs:    210000,
		OfflineBlurTimeoutMs:    5000,
		OfflineIdleTimeoutMs:    30000,
		OnlineCloudTimeoutMs:    300000,
		NotifyCloudDelayMs:      30000,
		NotifyDefaultDelayMs:    1500,
		PushChatPeriodMs:        60000,
		PushChatLimit:           2,
		EditTimeLimit:           172800,
		RevokeTimeLimit:         172800,
		RevokePmTimeLimit:       2147483647,
		RatingEDecay:            2419200,
		StickersRecentLimit:     200,
		ChannelsReadMediaPeriod: 604800,
		CallReceiveTimeoutMs:    20000,
		CallRingTimeoutMs:       90000,
		CallConnectTimeoutMs:    30000,
		CallPacketTimeoutMs:     10000,
		MeURLPrefix:             "https://t.me/",
		CaptionLengthMax:        1024,
		MessageLengthMax:        4096,
		WebfileDCID:             ThisDC,
		RevokePmInbox:           true,
	}, nil
}
