package clients_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// config is the JSON object every client program gets as its last argument (js/common.mjs, gotd/main.go).
type config struct {
	Host        string   `json:"host"`
	Port        int      `json:"port"`
	DC          int      `json:"dc"`
	PEM         string   `json:"pem"`         // PKCS#1 PEM (mtcute, gotd)
	Fingerprint string   `json:"fingerprint"` // signed decimal (GramJS's key table)
	N           string   `json:"n"`           // modulus, decimal (GramJS)
	E           int      `json:"e"`
	Phone       string   `json:"phone"`
	Code        string   `json:"code"`
	FirstName   string   `json:"firstName"`
	LastName    string   `json:"lastName"`
	PeerPhone   string   `json:"peerPhone"`
	Texts       []string `json:"texts"`
	PushText    string   `json:"pushText"`
	Transport   string   `json:"transport"` // "" (the library's default) or "obfuscated" (JS clients)
	TimeoutMs   int      `json:"timeoutMs"`
	Photo       []byte   `json:"photo"` // a JPEG for the "photo" step (base64 in the JSON)
}

// line is one step a client printed; the fields a step does not report stay zero.
type line struct {
	Step           string   `json:"step"`
	OK             bool     `json:"ok"`
	Error          string   `json:"error"`
	ThisDC         int      `json:"thisDc"`
	DCOptions      []string `json:"dcOptions"`
	UserID         int64    `json:"userId"`
	Self           bool     `json:"self"`
	SignUpRequired bool     `json:"signUpRequired"`
	FirstName      string   `json:"firstName"`
	AccessHash     bool     `json:"accessHash"`
	I              int      `json:"i"`
	ID             int      `json:"id"`
	Text           string   `json:"text"`
	FromID         int64    `json:"fromId"`
	Dialogs        []struct {
		PeerID     int64 `json:"peerId"`
		TopMessage int   `json:"topMessage"`
	} `json:"dialogs"`
	Messages []message `json:"messages"`
	Size     int       `json:"size"`
	SentSHA  string    `json:"sentSha"`
	GotSHA   string    `json:"gotSha"`
	W        int       `json:"w"`
	H        int       `json:"h"`
}

type message struct {
	ID     int    `json:"id"`
	Out    bool   `json:"out"`
	Text   string `json:"text"`
	FromID int64  `json:"fromId"`
}

// runScenario runs argv + config JSON in dir, collects the step lines of stdout (other lines are library
// logs: logged), calls onReady when the client prints the "ready" step, and returns the lines, stderr and the
// exit error.
func runScenario(ctx context.Context, argv []string, dir string, cfg config, onReady func() error,
	logf func(string, ...any)) ([]line, []byte, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(cfg.TimeoutMs)*time.Millisecond+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], append(argv[1:], string(b))...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	var lines []line
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		raw := sc.Bytes()
		var l line
		if !bytes.HasPrefix(raw, []byte("{")) || json.Unmarshal(raw, &l) != nil || l.Step == "" {
			logf("  | %s", raw)
			continue
		}
		logf("  > %s", raw)
		lines = append(lines, l)
		if l.Step == "ready" && l.OK {
			if err := onReady(); err != nil {
				lines = append(lines, line{Step: "push", Error: "the test could not send the push: " + err.Error()})
			}
		}
	}
	err = cmd.Wait()
	return lines, stderr.Bytes(), err
}

// expect is what a client must report.
type expect struct {
	node     string // the node's client address
	peerID   int64
	texts    []string
	pushText string
	file     bool // the "file" and "photo" steps run (between getHistory and done)
	photo    image.Point
}

// order of the steps a client prints.
var order = []string{"connect", "getConfig", "signUp", "getSelf", "resolve", "send", "ready", "push",
	"getDialogs", "getHistory", "done"}

// check asserts the steps: the first failure is reported with the client's error, and every step that ran is
// checked against what the server must have answered.
func (x expect) check(t *testing.T, lines []line) {
	t.Helper()
	by := map[string][]line{}
	for _, l := range lines {
		by[l.Step] = append(by[l.Step], l)
		if !l.OK {
			t.Errorf("step %s failed: %s", l.Step, l.Error)
		}
	}
	steps := order
	if x.file {
		steps = slices.Insert(slices.Clone(order), len(order)-1, "file", "photo")
	}
	for _, s := range steps {
		if len(by[s]) == 0 {
			t.Errorf("steps from %s on did not run (passed: %s)", s, passed(lines))
			break
		}
	}
	one := func(step string) (line, bool) {
		ls := by[step]
		if len(ls) == 0 || !ls[0].OK {
			return line{}, false
		}
		return ls[0], true
	}
	if l, ok := one("getConfig"); ok {
		if l.ThisDC != 1 || !slices.Contains(l.DCOptions, x.node) {
			t.Errorf("getConfig: this_dc %d, dc_options of DC 1 %v: want 1 and %s listed", l.ThisDC, l.DCOptions, x.node)
		}
	}
	var self int64
	if l, ok := one("signUp"); ok {
		self = l.UserID
		if l.UserID <= 0 || !l.Self || !l.SignUpRequired {
			t.Errorf("signUp: user %d self %v, sign-up required %v: want a new user, self, through auth.signUp",
				l.UserID, l.Self, l.SignUpRequired)
		}
	}
	if l, ok := one("getSelf"); ok && (l.UserID != self || !l.Self) {
		t.Errorf("getSelf: user %d self %v, want %d self", l.UserID, l.Self, self)
	}
	if l, ok := one("resolve"); ok && (l.UserID != x.peerID || !l.AccessHash) {
		t.Errorf("resolve: user %d access hash %v, want the peer %d with a hash", l.UserID, l.AccessHash, x.peerID)
	}
	var want []message // the dialog as getHistory must show it, oldest first
	for i, l := range by["send"] {
		if !l.OK {
			continue
		}
		if l.I != i || l.Text != x.texts[i] || (i > 0 && l.ID <= want[len(want)-1].ID) {
			t.Errorf("send %d: message %d %q after %v: want %q with an increasing id", i, l.ID, l.Text, want, x.texts[i])
		}
		want = append(want, message{ID: l.ID, Out: true, Text: l.Text, FromID: self})
	}
	if l, ok := one("push"); ok {
		if l.Text != x.pushText || l.FromID != x.peerID || (len(want) > 0 && l.ID <= want[len(want)-1].ID) {
			t.Errorf("push: message %d %q from %d, want %q from %d after the sends", l.ID, l.Text, l.FromID,
				x.pushText, x.peerID)
		}
		want = append(want, message{ID: l.ID, Text: l.Text, FromID: l.FromID})
	}
	if l, ok := one("getDialogs"); ok {
		found := false
		for _, d := range l.Dialogs {
			if d.PeerID == x.peerID {
				found = true
				if len(want) > 0 && d.TopMessage != want[len(want)-1].ID {
					t.Errorf("getDialogs: top message %d of the dialog with the peer, want %d", d.TopMessage,
						want[len(want)-1].ID)
				}
			}
		}
		if !found {
			t.Errorf("getDialogs: no dialog with the peer %d in %+v", x.peerID, l.Dialogs)
		}
	}
	if l, ok := one("getHistory"); ok {
		// Senders are compared on the push only: libraries derive a private message's sender differently
		// (from_id is optional there).
		var got []message
		for _, m := range l.Messages {
			got = append(got, message{ID: m.ID, Out: m.Out, Text: m.Text})
		}
		slices.SortFunc(got, func(a, b message) int { return a.ID - b.ID })
		want := slices.Clone(want)
		for i := range want {
			want[i].FromID = 0
		}
		if !slices.Equal(got, want) {
			t.Errorf("getHistory:\n got %+v\nwant %+v", got, want)
		}
	}
	if l, ok := one("file"); ok && (l.Size < 100<<10 || l.SentSHA == "" || l.GotSHA != l.SentSHA || l.Text != "scenario file") {
		t.Errorf("file: %d bytes sent (sha256 %s), %s came back, caption %q", l.Size, l.SentSHA, l.GotSHA, l.Text)
	}
	if l, ok := one("photo"); ok && (l.SentSHA == "" || l.GotSHA != l.SentSHA || l.W != x.photo.X || l.H != x.photo.Y) {
		t.Errorf("photo: %dx%d (want %v), sha256 %s sent, %s came back", l.W, l.H, x.photo, l.SentSHA, l.GotSHA)
	}
}

func passed(lines []line) string {
	var s []string
	for _, l := range lines {
		if l.OK {
			s = append(s, l.Step)
		}
	}
	return strings.Join(s, " ")
}

// lockedBuffer is a bytes.Buffer safe for exec's copying goroutine and the reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 { // bounded: a chatty library must not grow the test's memory without end
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.b.Bytes())
}
