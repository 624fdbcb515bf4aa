package crosscheck

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/gotd/td/bin"
	gmt "github.com/gotd/td/mt"
	"github.com/gotd/td/tg"

	"github.com/raftgram/raftgram/tl"
)

var writeSeeds = flag.Bool("write-seeds", false, "write the fuzz seed corpora of tl/api and tl/mt from real encoded values")

// TestWriteSeeds regenerates the committed seed corpora (go test ./tl/crosscheck -run TestWriteSeeds
// -write-seeds): gotd-encoded random values of every mt id and of every 8th api id plus the samples.
func TestWriteSeeds(t *testing.T) {
	if !*writeSeeds {
		t.Skip("pass -write-seeds to regenerate")
	}
	write := func(dir string, b []byte) {
		sum := sha256.Sum256(b)
		name := hex.EncodeToString(sum[:8])
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	apiDir := filepath.Join("..", "api", "testdata", "fuzz", "FuzzAPIDecode")
	gzDir := filepath.Join("..", "api", "testdata", "fuzz", "FuzzGzipPacked")
	mtDir := filepath.Join("..", "mt", "testdata", "fuzz", "FuzzMTDecode")
	for _, d := range []string{apiDir, gzDir, mtDir} {
		_ = os.RemoveAll(d)
	}
	enc := func(o bin.Encoder) []byte {
		var b bin.Buffer
		if err := o.Encode(&b); err != nil {
			return nil
		}
		if _, err := tl.DecodeObject(b.Buf, registry); err != nil {
			return nil
		}
		return b.Buf
	}
	for _, set := range []struct {
		dir   string
		ctors map[uint32]func() bin.Object
		every int
	}{{apiDir, tg.TypesConstructorMap(), 8}, {mtDir, gmt.TypesConstructorMap(), 1}} {
		f := newFiller(1, set.ctors)
		for i, id := range f.ids {
			if skipID[id] || i%set.every != 0 {
				continue
			}
			o := set.ctors[id]()
			f.fill(reflect.ValueOf(o).Elem(), 1)
			if b := enc(o); b != nil && len(b) < 4096 {
				write(set.dir, b)
			}
		}
	}
	for _, o := range gotdSamples() {
		if b := enc(o); b != nil {
			write(apiDir, b)
		}
	}
	c, _ := tl.Marshal(ourContainer(3))
	write(mtDir, c)
	for _, n := range []int{1, 5} {
		gz, err := tl.Gzip(ourMessages(n))
		if err != nil {
			t.Fatal(err)
		}
		write(gzDir, gz.Data)
	}
}
