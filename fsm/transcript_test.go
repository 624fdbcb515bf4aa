package fsm

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of transcript tests")

// TestTranscripts runs testdata/transcripts/*.txt: blocks of "directive / input lines / ---- / expected output"
// separated by blank lines, applied in order to one fresh State. With -rewrite the expected outputs are
// replaced by the actual ones. Directives:
//
//	apply <shard> <index>   one command per input line (below); output: one result line per command
//	raw <shard> <index>     input: the entry's bytes in hex; output: the entry's result
//	dump <shard>            output: the shard's domain keys and values (also of a halted State)
//	applied <shard>         output: the shard's applied index
//	fatal                   output: the OnFatal calls since the last open (the State halts on the first)
//	restart [upgrade]       close and reopen the State over the same files, as a node restart; with upgrade,
//	                        the newer binary also applies command type 4242 and envelope version 2
//
// Commands: put K V | del K | cas K OLD|- NEW|- | get K | type N, each optionally followed by id=N (request id)
// and t=MS (proposer time).
func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob("testdata/transcripts/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			env := &transcriptEnv{fs: vfs.NewMem()}
			env.open(t, false)
			defer func() { _ = env.st.Close() }()
			var out strings.Builder
			for i, block := range strings.Split(strings.TrimSpace(string(src)), "\n\n") {
				lines := strings.Split(block, "\n")
				for len(lines) > 0 && strings.HasPrefix(lines[0], "#") {
					out.WriteString(lines[0] + "\n")
					lines = lines[1:]
				}
				sep := len(lines)
				for j, l := range lines {
					if l == "----" {
						sep = j
						break
					}
				}
				if sep == 0 {
					t.Fatalf("block %d: no directive", i+1)
				}
				got := runBlock(t, env, lines[0], lines[1:sep])
				var want string
				if sep < len(lines) {
					want = strings.Join(lines[sep+1:], "\n")
				}
				if !*rewrite && got != want {
					t.Errorf("block %d (%s):\n got: %s\nwant: %s", i+1, lines[0], got, want)
				}
				out.WriteString(strings.Join(lines[:sep], "\n") + "\n----\n")
				if got != "" {
					out.WriteString(got + "\n")
				}
				out.WriteString("\n")
			}
			if *rewrite {
				if err := os.WriteFile(file, []byte(strings.TrimRight(out.String(), "\n")+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// transcriptEnv is the node a transcript drives: one State over one filesystem, reopened by restart.
type transcriptEnv struct {
	fs     vfs.FS
	st     *State
	fatals []string
}

func (e *transcriptEnv) open(t *testing.T, upgrade bool) {
	st, err := Open("s", Options{FS: e.fs, OnFatal: func(err error) { e.fatals = append(e.fatals, err.Error()) }})
	if err != nil {
		t.Fatal(err)
	}
	registerTestAppliers(st)
	if upgrade {
		registerNew(st)
		st.decode = newerDecode
	}
	e.st, e.fatals = st, nil
}

func runBlock(t *testing.T, env *transcriptEnv, directive string, input []string) string {
	st := env.st
	f := strings.Fields(directive)
	num := func(i int) uint64 {
		if len(f) <= i {
			t.Fatalf("%q: missing argument %d", directive, i)
		}
		n, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			t.Fatalf("%q: %v", directive, err)
		}
		return n
	}
	switch f[0] {
	case "apply":
		var cmds []Command
		for _, l := range input {
			cmds = append(cmds, parseCommand(t, l))
		}
		res := applyAll(t, st.Shard(uint32(num(1))), []*raft.Log{entry(t, num(2), cmds...)})[0]
		return formatEntry(res)
	case "raw":
		data, err := hex.DecodeString(strings.Join(input, ""))
		if err != nil {
			t.Fatal(err)
		}
		res := applyAll(t, st.Shard(uint32(num(1))), []*raft.Log{{Index: num(2), Term: 1, Type: raft.LogCommand, Data: data}})[0]
		return formatEntry(res)
	case "dump":
		var lines []string
		// Straight from the DB: View refuses once the State halted, and the point is to show it unchanged.
		err := baseReader{r: st.db, shard: uint32(num(1))}.Scan(nil, nil, func(k, v []byte) bool {
			if strconv.CanBackquote(string(v)) {
				lines = append(lines, fmt.Sprintf("%s=%s", k, v))
			} else {
				lines = append(lines, fmt.Sprintf("%s=0x%x", k, v))
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(lines, "\n")
	case "applied":
		return fmt.Sprint(st.Shard(uint32(num(1))).AppliedIndex())
	case "fatal":
		if len(env.fatals) == 0 {
			return "none"
		}
		return strings.Join(env.fatals, "\n")
	case "restart":
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		env.open(t, len(f) > 1 && f[1] == "upgrade")
		return ""
	}
	t.Fatalf("unknown directive %q", directive)
	return ""
}

func parseCommand(t *testing.T, line string) Command {
	f := strings.Fields(line)
	var c Command
	var args []string
	for _, w := range f {
		switch {
		case strings.HasPrefix(w, "id="):
			n, _ := strconv.Atoi(w[3:])
			c.RequestID = RequestID{byte(n), byte(n >> 8), 0xAA}
		case strings.HasPrefix(w, "t="):
			c.Time, _ = strconv.ParseInt(w[2:], 10, 64)
		default:
			args = append(args, w)
		}
	}
	opt := func(s string) []byte {
		if s == "-" {
			return nil
		}
		return []byte(s)
	}
	switch {
	case args[0] == "put" && len(args) == 3:
		c.Type, c.Payload = TypeKVPut, EncodeKVPut([]byte(args[1]), []byte(args[2]))
	case args[0] == "del" && len(args) == 2:
		c.Type, c.Payload = TypeKVDelete, EncodeKVDelete([]byte(args[1]))
	case args[0] == "cas" && len(args) == 4:
		c.Type, c.Payload = TypeKVCAS, EncodeKVCAS([]byte(args[1]), opt(args[2]), opt(args[3]))
	case args[0] == "get" && len(args) == 2:
		c.Type, c.Payload = TypeKVGet, EncodeKVGet([]byte(args[1]))
	case args[0] == "type" && len(args) == 2:
		n, _ := strconv.Atoi(args[1])
		c.Type = CommandType(n)
	default:
		t.Fatalf("bad command %q", line)
	}
	return c
}

func formatEntry(r *EntryResult) string {
	if r.Skipped {
		return "skipped"
	}
	if r.Err != nil {
		return "entry error: " + r.Err.Error()
	}
	var lines []string
	for _, c := range r.Results {
		var s string
		var ae *ApplyError
		switch {
		case errors.As(c.Err, &ae):
			s = "err " + ae.Code
		case c.Err != nil:
			s = "err " + c.Err.Error()
		case len(c.Value) > 0:
			s = fmt.Sprintf("ok %q", c.Value)
		default:
			s = "ok"
		}
		if c.Duplicate {
			s += " (duplicate)"
		}
		lines = append(lines, s)
	}
	return strings.Join(lines, "\n")
}
