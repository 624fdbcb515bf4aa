package auth_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gotd/td/tg"

	"github.com/raftgram/raftgram/node/handler/auth"
	"github.com/raftgram/raftgram/node/messenger"
)

// TestCodeDeliveryCommandAndDevCode: with Options.DevCode every phone's code is that code; Options.CodeCommand
// is run with phone and code as its last two arguments.
func TestCodeDeliveryCommandAndDevCode(t *testing.T) {
	out := filepath.Join(t.TempDir(), "sms")
	// The operator's program (a shell script here; raftgram itself never runs a shell).
	script := `printf '%s %s' "$1" "$2" > "` + out + `"`
	e := startEnv(t, 1, auth.Limits{}, func(o *messenger.Options) {
		o.DevCode = "24680"
		o.CodeCommand = []string{"/bin/sh", "-c", script, "sms"}
	})
	c := e.client("dev")
	e.run(c, func(ctx context.Context, api *tg.Client) error {
		s, err := api.AuthSendCode(ctx, &tg.AuthSendCodeRequest{PhoneNumber: "+1 (555) 0500", APIID: 1, APIHash: "x"})
		if err != nil {
			return err
		}
		sent := s.(*tg.AuthSentCode)
		r, err := api.AuthSignIn(ctx, &tg.AuthSignInRequest{PhoneNumber: "15550500", PhoneCodeHash: sent.PhoneCodeHash,
			PhoneCode: "24680"})
		if err != nil {
			return err
		}
		if _, ok := r.(*tg.AuthAuthorizationSignUpRequired); !ok {
			t.Errorf("signIn with the dev code: %T", r)
		}
		return nil
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, err := os.ReadFile(out)
		if err == nil && strings.TrimSpace(string(b)) == "15550500 24680" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("code command output: %q %v", b, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
