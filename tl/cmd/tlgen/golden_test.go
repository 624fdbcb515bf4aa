package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func loadSchema(t *testing.T, path string) *Schema {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestGolden generates package tiny from testdata/tiny-2.tl (with tiny-1.tl as an older layer) and compares
// the output with the committed golden files; then runs the golden package's own tests.
func TestGolden(t *testing.T) {
	canon := loadSchema(t, "testdata/tiny-2.tl")
	old := loadSchema(t, "testdata/tiny-1.tl")
	m, err := NewModel("tiny", canon)
	if err != nil {
		t.Fatal(err)
	}
	ir := BuildIR(map[int]*Schema{2: canon, 1: old}, 2, []int{1})
	pol, err := ParsePolicy([]byte(tinyPolicy))
	if err != nil {
		t.Fatal(err)
	}
	m.Legacy = ir.Legacy(m, pol)
	files, err := m.Emit(Options{LookupName: "New", Source: "tiny-2.tl", PerFile: 4})
	if err != nil {
		t.Fatal(err)
	}
	lf, err := ir.EmitLayers(m)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := ir.buildProjection(m, pol)
	if err != nil {
		t.Fatal(err)
	}
	pf, err := pr.Emit()
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, lf, pf, File{Name: "REPORT.md", Body: ir.Report(m, pr)})
	dir := filepath.Join("testdata", "tiny")
	if *update {
		if err := writeDir(dir, files[:len(files)-1]); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "REPORT.md"), ir.Report(m, pr), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		want, err := os.ReadFile(filepath.Join(dir, f.Name))
		if err != nil {
			t.Fatalf("%v (run with -update)", err)
		}
		if !bytes.Equal(want, f.Body) {
			t.Errorf("%s differs from golden (run go test ./tl/cmd/tlgen -update and review the diff)", f.Name)
		}
	}
	// Generating twice gives identical output (determinism).
	again, _ := m.Emit(Options{LookupName: "New", Source: "tiny-2.tl", PerFile: 4})
	for i := range again {
		if !bytes.Equal(again[i].Body, files[i].Body) {
			t.Errorf("%s: output not deterministic", again[i].Name)
		}
	}
	if testing.Short() {
		return
	}
	out, err := exec.Command("go", "test", "-count=1", "./testdata/tiny").CombinedOutput()
	if err != nil {
		t.Fatalf("generated golden package fails its tests: %v\n%s", err, out)
	}
}

// tinyPolicy exercises every policy action; its Go funcs are in testdata/tiny/policy.go.
const tinyPolicy = `
field 1 item.old_count oldCount -- layer 1 requires it: the number of points
substitute 1 peerNew peerNewAsChat -- a new peer kind shown as a chat
omit 1 class:Peer -- other new peers are left out of vectors
`

// TestPolicyChecks: stale, unused and unsafe entries fail generation.
func TestPolicyChecks(t *testing.T) {
	canon := loadSchema(t, "testdata/tiny-2.tl")
	old := loadSchema(t, "testdata/tiny-1.tl")
	m, err := NewModel("tiny", canon)
	if err != nil {
		t.Fatal(err)
	}
	ir := BuildIR(map[int]*Schema{2: canon, 1: old}, 2, []int{1})
	m.Legacy = ir.Legacy(m, nil)
	for _, bad := range []string{
		"result 1 getIDs f -- getIDs has the same id at layer 1",
		"result 1 point f -- not a method",
		"field 1 item.title f -- title maps mechanically",
		"field 1 item.nosuch f -- no such field",
		"substitute 1 peerChat f -- peerChat exists at layer 1",
		"omit 1 class:Point -- no point is absent",
		"omit 3 peerGone -- no layer 3",
		"field 1 item.old_count -- no func",
		"omit 1 peerGone",
	} {
		pol, err := ParsePolicy([]byte(bad))
		if err == nil {
			_, err = ir.buildProjection(m, pol)
		}
		if err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	// Without an entry for old_count, item is refused at layer 1 (reported), not an error.
	pr, err := ir.buildProjection(m, &Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(ir.Report(m, pr), []byte("| item | 1 | required old_count |")) {
		t.Error("refused item not reported")
	}
}

// TestCRC re-derives every id of the real schema files from the combinator text.
func TestCRC(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "..", "shared", "tl")
	for _, name := range []string{"api-227.tl", "api-223.tl", "api-198.tl", "api-170.tl", "mtproto.tl"} {
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); err != nil {
			t.Skipf("schema not present: %v", err)
		}
		s := loadSchema(t, path)
		var bad []string
		n := 0
		for _, c := range append(append([]*Combinator{}, s.Types...), s.Functions...) {
			n++
			if c.CRC(false) != c.ID && c.CRC(true) != c.ID {
				bad = append(bad, c.Name)
			}
		}
		// The DNS simple-config blob's ids do not follow the normalization (shared/tl/README.md).
		want := 0
		if name == "mtproto.tl" {
			want = 2
		}
		if len(bad) != want {
			t.Errorf("%s: %d of %d ids do not match their CRC: %v", name, len(bad), n, bad)
		}
	}
}

func TestNames(t *testing.T) {
	for in, want := range map[string]string{
		"inputPeerUser": "InputPeerUser", "messages.sendMessage": "MessagesSendMessage", "server_DH_params_ok": "ServerDHParamsOk",
		"p_q_inner_data_dc": "PQInnerDataDC", "req_pq_multi": "ReqPqMulti", "user_id": "UserID", "dc_id": "DCID",
		"http_wait": "HTTPWait", "help.getCdnConfig": "HelpGetCDNConfig", "resPQ": "ResPQ", "msgs_ack": "MsgsAck",
	} {
		if got := goName(in); got != want {
			t.Errorf("goName(%q) = %q, want %q", in, got, want)
		}
	}
}
