package gateway_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/gotd/log/logslog"
	"github.com/gotd/td/session"
	"github.com/gotd/td/telegram"
	"github.com/gotd/td/telegram/dcs"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/transport"

	"github.com/raftgram/raftgram/gateway"
)

// gotdTransports are the transports gotd v0.160.0 offers, each as a resolver for the test server.
func gotdTransports(addr string) map[string]func() (dcs.Resolver, map[int]string) {
	plain := func(p dcs.Protocol, obfuscated bool) func() (dcs.Resolver, map[int]string) {
		return func() (dcs.Resolver, map[int]string) {
			return dcs.Plain(dcs.PlainOptions{Protocol: p, Obfuscated: obfuscated}), nil
		}
	}
	return map[string]func() (dcs.Resolver, map[int]string){
		"intermediate":            plain(transport.Intermediate, false),
		"abridged":                plain(transport.Abridged, false),
		"padded":                  plain(transport.PaddedIntermediate, false),
		"full":                    plain(transport.Full, false),
		"obfuscated_abridged":     plain(transport.Abridged, true),
		"obfuscated_intermediate": plain(transport.Intermediate, true),
		"obfuscated_padded":       plain(transport.PaddedIntermediate, true),
		"websocket": func() (dcs.Resolver, map[int]string) {
			return dcs.Websocket(dcs.WebsocketOptions{}), map[int]string{1: "ws://" + addr + "/apiws"}
		},
	}
}

// runGotd connects a real gotd client, calls help.getConfig and pings, then disconnects.
func runGotd(t *testing.T, s *testServer, resolver dcs.Resolver, domains map[int]string, storage telegram.SessionStorage, pfs ...bool) {
	t.Helper()
	host, portStr, _ := net.SplitHostPort(s.Addr().String())
	port, _ := strconv.Atoi(portStr)
	client := telegram.NewClient(1, "test", telegram.Options{
		DC: 1,
		DCList: dcs.List{
			Options: []tg.DCOption{{ID: 1, IPAddress: host, Port: port, Static: true}},
			Domains: domains,
		},
		PublicKeys:     []telegram.PublicKey{{RSA: &serverKey(t).Private.PublicKey}},
		Resolver:       resolver,
		SessionStorage: storage,
		NoUpdates:      true,
		DialTimeout:    10 * time.Second,
		Logger:         logslog.New(testLog().With("part", "gotd")),
		EnablePFS:      len(pfs) > 0 && pfs[0],
		TempKeyTTL:     3600,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := client.Run(ctx, func(ctx context.Context) error {
		cfg, err := client.API().HelpGetConfig(ctx)
		if err != nil {
			return err
		}
		if cfg.ThisDC != 1 || len(cfg.DCOptions) != 1 {
			t.Errorf("config: this_dc %d, %d options", cfg.ThisDC, len(cfg.DCOptions))
		}
		return client.Ping(ctx)
	})
	if err != nil {
		t.Fatalf("gotd: %v", err)
	}
}

func TestGotdTransports(t *testing.T) {
	if testing.Short() {
		t.Skip("gotd re-checks the DH prime on every key: slow")
	}
	for name := range gotdTransports("") {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // a server each: gotd's prime check is CPU-bound and single-threaded
			s := startServer(t, nil)
			mk := gotdTransports(s.Addr().String())[name]
			storage := &session.StorageMemory{}
			keysBefore := s.store.Len()
			resolver, domains := mk()
			runGotd(t, s, resolver, domains, storage)
			if s.store.Len() != keysBefore+1 {
				t.Fatalf("expected one new key, store has %d (was %d)", s.store.Len(), keysBefore)
			}
			// Reconnect with the saved session: the key (and its salt) are reused, no new exchange.
			runGotd(t, s, resolver, domains, storage)
			if s.store.Len() != keysBefore+1 {
				t.Fatalf("reconnect created a new key")
			}
		})
	}
}

// TestGotdPFS: gotd with PFS creates a permanent and a temporary key (p_q_inner_data_temp_dc), binds them
// with auth.bindTempAuthKey and then works over the temporary key.
func TestGotdPFS(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: two key exchanges with gotd's prime check")
	}
	s := startServer(t, nil)
	runGotd(t, s, dcs.Plain(dcs.PlainOptions{Protocol: transport.Intermediate}), nil, &session.StorageMemory{}, true)
	var perm, temp []gateway.AuthKey
	for _, k := range s.store.All() {
		if k.Temp {
			temp = append(temp, k)
		} else {
			perm = append(perm, k)
		}
	}
	if len(perm) != 1 || len(temp) != 1 {
		t.Fatalf("%d permanent and %d temporary keys", len(perm), len(temp))
	}
	if temp[0].PermID != perm[0].ID || temp[0].ExpiresAt.IsZero() {
		t.Fatalf("temporary key not bound or without expiry: %+v", temp[0])
	}
	if call := s.backend.lastCall(); call.AuthKeyID != temp[0].ID || call.PermKeyID != perm[0].ID {
		t.Fatalf("calls not made over the bound temporary key: %+v", call)
	}
}

// TestGotdReconnectInRun: the server drops gotd's connection in the middle of a run; gotd reconnects by
// itself (to the address from dc_options), keeps its key and the next call succeeds.
func TestGotdReconnectInRun(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: gotd key exchange")
	}
	s := startServer(t, nil)
	host, portStr, _ := net.SplitHostPort(s.Addr().String())
	port, _ := strconv.Atoi(portStr)
	client := telegram.NewClient(1, "test", telegram.Options{
		DC:             1,
		DCList:         dcs.List{Options: []tg.DCOption{{ID: 1, IPAddress: host, Port: port, Static: true}}},
		PublicKeys:     []telegram.PublicKey{{RSA: &serverKey(t).Private.PublicKey}},
		Resolver:       dcs.Plain(dcs.PlainOptions{Protocol: transport.Intermediate}),
		SessionStorage: &session.StorageMemory{},
		NoUpdates:      true,
		Logger:         logslog.New(testLog().With("part", "gotd")),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := client.Run(ctx, func(ctx context.Context) error {
		if _, err := client.API().HelpGetConfig(ctx); err != nil {
			return err
		}
		if n := s.CloseConnections("test: drop"); n == 0 {
			t.Error("no connection to drop")
		}
		// A call racing the drop may fail with the broken pipe (gotd does not retry it); gotd itself
		// reconnects, so an application retry succeeds.
		var err error
		for range 50 {
			if _, err = client.API().HelpGetConfig(ctx); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			return err
		}
		return client.Ping(ctx)
	})
	if err != nil {
		t.Fatalf("gotd after a dropped connection: %v", err)
	}
	if s.store.Len() != 1 {
		t.Fatalf("%d keys: the reconnect made a new key", s.store.Len())
	}
}
