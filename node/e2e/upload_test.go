package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/gotd/td/telegram/uploader"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	gwcrypto "github.com/raftgram/raftgram/gateway/crypto"
	"github.com/raftgram/raftgram/node/e2e/tgclient"
	"github.com/raftgram/raftgram/node/testcluster"
)

// uploaded is a file gotd uploaded: its id and bytes, cut into parts of partSize.
type uploaded struct {
	name string
	id   int64
	data []byte
}

const uploadPartSize = 128 << 10

func (f uploaded) parts() int { return (len(f.data) + uploadPartSize - 1) / uploadPartSize }

func (f uploaded) part(p int) []byte {
	return f.data[p*uploadPartSize : min((p+1)*uploadPartSize, len(f.data))]
}

// TestUploadSurvivesNodeLoss: gotd's uploader stores a small file (upload.saveFilePart) and a big one
// (upload.saveBigFilePart) through one node of three real processes; every part reads back byte for byte after
// kill -9 of another node. A file uploaded while that node is down (a mirror on the two others) reads back after
// it returns and the node the client used is killed. Parts are read through the store with the debug API's
// /debug/files (no download method exists yet). files/DESIGN.md invariants 1 and 4.
func TestUploadSurvivesNodeLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 3 processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	c, err := testcluster.Start(ctx, testcluster.Options{Client: true, DevCode: devCode, Shards: shards, Dir: dir})
	if err != nil {
		testcluster.LogTails(t, dir, 8000)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.LogUnimplemented(t)
		c.Close()
		if t.Failed() {
			testcluster.LogTails(t, dir, 8000)
		}
	})
	pem, err := c.PublicKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := gwcrypto.ParsePublicPEM(pem)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := tgclient.Start(ctx, tgclient.Options{Addr: c.Nodes[0].Client, PublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	me, err := dev.Login(ctx, "15550009001", devCode, "Up", "Loader")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	upload := func(name string, size int) uploaded {
		t.Helper()
		f := uploaded{name: name, data: make([]byte, size)}
		for i := range f.data {
			f.data[i] = byte(rng.Uint32())
		}
		start := time.Now()
		in, err := uploader.NewUploader(dev.API).WithPartSize(uploadPartSize).FromBytes(ctx, name, f.data)
		if err != nil {
			t.Fatalf("upload %s: %v", name, err)
		}
		switch in := in.(type) {
		case *tg.InputFile:
			f.id = in.ID
		case *tg.InputFileBig:
			f.id = in.ID
		}
		t.Logf("uploaded %s: %d bytes in %d parts, %v", name, size, f.parts(), time.Since(start).Round(time.Millisecond))
		return f
	}
	small := upload("small.bin", 700<<10+123) // upload.saveFilePart
	big := upload("big.bin", 10<<20+300<<10)  // over 10 MiB: upload.saveBigFilePart
	check := func(via int, files ...uploaded) {
		t.Helper()
		for _, f := range files {
			for p := range f.parts() {
				got, err := readPart(ctx, c.Nodes[via].Admin, me.ID, f.id, p)
				if err != nil || !bytes.Equal(got, f.part(p)) {
					t.Fatalf("%s part %d via %s: %d bytes, equal %v, %v", f.name, p, c.Nodes[via].ID, len(got),
						bytes.Equal(got, f.part(p)), err)
				}
			}
		}
	}

	if err := c.Kill(2); err != nil {
		t.Fatal(err)
	}
	check(1, small, big)
	check(0, small)

	degraded := upload("degraded.bin", 300<<10) // node 2 down: each part mirrored on nodes 0 and 1
	if err := c.Restart(2); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	_ = dev.Close()
	if err := c.Kill(0); err != nil {
		t.Fatal(err)
	}
	check(1, small, big, degraded)
	check(2, degraded)
	if _, err := readPart(ctx, c.Nodes[1].Admin, me.ID+1, small.id, 0); err == nil {
		t.Fatal("another owner's key read the part")
	}
}

// TestUploadRejectsBadParts: Telegram's errors for parts outside its limits, through gotd.
func TestUploadRejectsBadParts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	c, err := testcluster.Start(ctx, testcluster.Options{Nodes: 1, Client: true, DevCode: devCode, Shards: 1, Dir: dir})
	if err != nil {
		testcluster.LogTails(t, dir, 8000)
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	pem, err := c.PublicKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := gwcrypto.ParsePublicPEM(pem)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := tgclient.Start(ctx, tgclient.Options{Addr: c.Nodes[0].Client, PublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	if _, err := dev.API.UploadSaveFilePart(ctx, &tg.UploadSaveFilePartRequest{FileID: 1, Bytes: []byte("x")}); !tgerr.Is(err, "AUTH_KEY_UNREGISTERED") {
		t.Fatalf("before sign-in: %v", err)
	}
	me, err := dev.Login(ctx, "15550009002", devCode, "Bad", "Parts")
	if err != nil {
		t.Fatal(err)
	}
	kib := bytes.Repeat([]byte{1}, 1024)
	for _, tc := range []struct {
		name string
		call func() (bool, error)
		want string
	}{
		{"empty", func() (bool, error) {
			return dev.API.UploadSaveFilePart(ctx, &tg.UploadSaveFilePartRequest{FileID: 1, FilePart: 0})
		}, "FILE_PART_EMPTY"},
		{"part 4000", func() (bool, error) {
			return dev.API.UploadSaveFilePart(ctx, &tg.UploadSaveFilePartRequest{FileID: 1, FilePart: 4000, Bytes: kib})
		}, "FILE_PART_INVALID"},
		{"too big", func() (bool, error) {
			return dev.API.UploadSaveFilePart(ctx, &tg.UploadSaveFilePartRequest{FileID: 1, Bytes: make([]byte, 512<<10+1)})
		}, "FILE_PART_TOO_BIG"},
		{"no parts", func() (bool, error) {
			return dev.API.UploadSaveBigFilePart(ctx, &tg.UploadSaveBigFilePartRequest{FileID: 2, Bytes: kib})
		}, "FILE_PARTS_INVALID"},
		{"part past total", func() (bool, error) {
			return dev.API.UploadSaveBigFilePart(ctx, &tg.UploadSaveBigFilePartRequest{FileID: 2, FilePart: 3,
				FileTotalParts: 3, Bytes: kib})
		}, "FILE_PART_INVALID"},
		{"odd size before the last part", func() (bool, error) {
			return dev.API.UploadSaveBigFilePart(ctx, &tg.UploadSaveBigFilePartRequest{FileID: 2, FilePart: 0,
				FileTotalParts: 3, Bytes: kib[:1000]})
		}, "FILE_PART_SIZE_INVALID"},
		{"odd size as the last part", func() (bool, error) {
			return dev.API.UploadSaveBigFilePart(ctx, &tg.UploadSaveBigFilePartRequest{FileID: 2, FilePart: 2,
				FileTotalParts: 3, Bytes: kib[:1000]})
		}, ""},
	} {
		ok, err := tc.call()
		if tc.want == "" {
			if err != nil || !ok {
				t.Fatalf("%s: %v %v", tc.name, ok, err)
			}
			continue
		}
		if !tgerr.Is(err, tc.want) {
			t.Fatalf("%s: %v %v, want %s", tc.name, ok, err, tc.want)
		}
	}
	got, err := readPart(ctx, c.Nodes[0].Admin, me.ID, 2, 2)
	if err != nil || !bytes.Equal(got, kib[:1000]) {
		t.Fatalf("single node read back: %d bytes, %v", len(got), err)
	}
}

// readPart reads one part through node admin's /debug/files.
func readPart(ctx context.Context, admin string, owner, file int64, part int) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		fmt.Sprintf("http://%s/debug/files?owner=%d&file=%d&part=%d", admin, owner, file, part), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}
