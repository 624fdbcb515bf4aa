package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"sort"
	"time"

	"github.com/raftgram/raftgram/fsm/account"
)

// deliver sends a login code: (a) to the user's other sessions from the service account when the phone's
// user has authorizations (the answer then says auth.sentCodeTypeApp), (b) to Options.CodeCommand if set
// (in the background, bounded in time), (c) the admin endpoint /codes lists it in any case, (d) with
// Options.DevCode every code is that code. It reports whether (a) succeeded.
func (x *Domain) deliver(ctx context.Context, phone, code string, o account.Outcome, resend bool) bool {
	viaApp := false
	if o.HasAuths && o.UserID != 0 && !resend && x.deps.Services.ServiceMessages != nil {
		text := fmt.Sprintf("Login code: %s. Do not give this code to anyone, even if they say they are from "+
			"this service!\n\nThis code can be used to log in to your account. We never ask it for anything else.\n\n"+
			"If you didn't request this code by trying to log in on another device, simply ignore this message.", code)
		if err := x.deps.Services.ServiceMessages.SendService(ctx, o.UserID, text); err != nil {
			x.log.Warn("login code to the user's sessions", "user", o.UserID, "err", err)
		} else {
			viaApp = true
		}
	}
	if cmd := x.deps.Options.CodeCommand; len(cmd) > 0 && (!viaApp || resend) {
		x.wg.Add(1)
		go func() {
			defer x.wg.Done()
			x.runCodeCommand(cmd, phone, code)
		}()
	}
	return viaApp
}

// runCodeCommand runs the operator's program with phone and code as its last two arguments: no shell, a time
// limit, output discarded.
func (x *Domain) runCodeCommand(cmd []string, phone, code string) {
	ctx, cancel := context.WithTimeout(context.Background(), x.lim.CodeCommand)
	defer cancel()
	args := append(append([]string(nil), cmd[1:]...), phone, code)
	c := exec.CommandContext(ctx, cmd[0], args...)
	c.WaitDelay = time.Second
	if err := c.Run(); err != nil {
		x.log.Warn("code command failed", "command", cmd[0], "err", err)
	}
}

// PendingCode is one entry of the /codes admin endpoint.
type PendingCode struct {
	Phone   string    `json:"phone"`
	Code    string    `json:"code"`
	Expires time.Time `json:"expires"`
}

// PendingCodes lists the live login codes of every shard (newest first).
func (x *Domain) PendingCodes(ctx context.Context) ([]PendingCode, error) {
	now := x.store.Now()
	out := []PendingCode{}
	for sh := 0; sh < x.store.Shards(); sh++ {
		v, err := x.store.Query(ctx, uint32(sh), account.QCodes, account.EncodeID(now.UnixMilli()))
		if err != nil {
			return nil, err
		}
		codes, err := account.DecodeCodes(v)
		if err != nil {
			return nil, err
		}
		for _, c := range codes {
			out = append(out, PendingCode{Phone: "+" + c.Phone, Code: c.Code, Expires: time.UnixMilli(c.Expires).UTC()})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Expires.After(out[j].Expires) })
	return out, nil
}

func (x *Domain) serveCodes(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	codes, err := x.PendingCodes(ctx)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(codes)
}
