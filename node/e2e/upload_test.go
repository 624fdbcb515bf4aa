package e2e_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rsa"
	"encoding/hex"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/gotd/td/telegram/downloader"
	"github.com/gotd/td/telegram/uploader"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	"github.com/raftgram/raftgram/node/e2e/tgclient"
	"github.com/raftgram/raftgram/node/testcluster"
)

// uploaded is a file gotd uploaded: its id and bytes, cut into parts of partSize, and the document
// messages.uploadMedia made of it.
type uploaded struct {
	name string
	id   int64
	in   tg.InputFileClass
	data []byte
	doc  *tg.Document
}

const uploadPartSize = 128 << 10

func (f uploaded) parts() int { return (len(f.data) + uploadPartSize - 1) / uploadPartSize }

func (f uploaded) part(p int) []byte {
	return f.data[p*uploadPartSize : min((p+1)*uploadPartSize, len(f.data))]
}

// startWithDevice starts a cluster and one gotd device connected to node 0 (not signed in).
func startWithDevice(t testing.TB, ctx context.Context, opts testcluster.Options) (*testcluster.Cluster, *rsa.PublicKey, *tgclient.Device) {
	t.Helper()
	opts.Client, opts.DevCode, opts.Dir = true, devCode, t.TempDir()
	c, err := testcluster.Start(ctx, opts)
	if err != nil {
		testcluster.LogTails(t, opts.Dir, 8000)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.LogUnimplemented(t)
		c.Close()
		if t.Failed() {
			testcluster.LogTails(t, opts.Dir, 8000)
		}
	})
	pub, err := c.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	dev, err := tgclient.Start(ctx, tgclient.Options{Addr: c.Nodes[0].Client, PublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dev.Close() })
	return c, pub, dev
}

// TestUploadSurvivesNodeLoss: gotd's uploader stores a small file (upload.saveFilePart) and a big one
// (upload.saveBigFilePart) through one node of three real processes; every part reads back byte for byte after
// kill -9 of another node, and a file goes up and down while a node is stopped (SIGSTOP: a partition). A file
// uploaded while that node is down (a mirror on the two others) reads back after
// it returns and the node the client used is killed. Parts are read through the store with the debug API's
// /debug/files (no download method exists yet). files/DESIGN.md invariants 1 and 4.
func TestUploadSurvivesNodeLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 3 processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c, pub, dev := startWithDevice(t, ctx, testcluster.Options{Shards: shards})
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
		f.in = in
		t.Logf("uploaded %s: %d bytes in %d parts, %v", name, size, f.parts(), time.Since(start).Round(time.Millisecond))
		return f
	}
	small := upload("small.bin", 700<<10+123) // upload.saveFilePart
	big := upload("big.bin", 10<<20+300<<10)  // over 10 MiB: upload.saveBigFilePart
	// messages.uploadMedia makes documents of them; gotd's downloader (upload.getFile) reads them back.
	toDocument := func(f *uploaded) {
		t.Helper()
		res, err := dev.API.MessagesUploadMedia(ctx, &tg.MessagesUploadMediaRequest{Peer: &tg.InputPeerSelf{},
			Media: &tg.InputMediaUploadedDocument{File: f.in, MimeType: "application/octet-stream"}})
		if err != nil {
			t.Fatalf("uploadMedia %s: %v", f.name, err)
		}
		doc, ok := res.(*tg.MessageMediaDocument).Document.(*tg.Document)
		if !ok || doc.Size != int64(len(f.data)) || doc.MimeType != "application/octet-stream" {
			t.Fatalf("uploadMedia %s: %+v", f.name, res)
		}
		var name string
		for _, a := range doc.Attributes {
			if fn, ok := a.(*tg.DocumentAttributeFilename); ok {
				name = fn.FileName
			}
		}
		if name != f.name {
			t.Fatalf("document of %s named %q", f.name, name)
		}
		f.doc = doc
	}
	download := func(api *tg.Client, files ...uploaded) {
		t.Helper()
		for _, f := range files {
			var buf bytes.Buffer
			_, err := downloader.NewDownloader().Download(api, f.doc.AsInputDocumentFileLocation("")).Stream(ctx, &buf)
			if err != nil || !bytes.Equal(buf.Bytes(), f.data) {
				t.Fatalf("download %s: %d of %d bytes, equal %v, %v", f.name, buf.Len(), len(f.data),
					bytes.Equal(buf.Bytes(), f.data), err)
			}
		}
	}
	toDocument(&small)
	toDocument(&big)
	download(dev.API, small, big)

	// A partition, not a crash: node 2 stopped (SIGSTOP) neither answers nor refuses. The upload and the
	// download through node 0 go on without it (the first part waits one timeout, the rest leave node 2 out).
	if err := c.Pause(2); err != nil {
		t.Fatal(err)
	}
	partitioned := upload("partitioned.bin", 600<<10)
	toDocument(&partitioned)
	download(dev.API, partitioned)
	if err := c.Resume(2); err != nil {
		t.Fatal(err)
	}

	// messages.sendMedia: the uploader sends the small file to user B (a device on node 1, another shard's user
	// possibly); B's history holds the message with the document and the caption, and B downloads it.
	devB, err := tgclient.Start(ctx, tgclient.Options{Addr: c.Nodes[1].Client, PublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	defer devB.Close()
	meB, err := devB.Login(ctx, "15550009011", devCode, "Down", "Loader")
	if err != nil {
		t.Fatal(err)
	}
	imp, err := dev.API.ContactsImportContacts(ctx, []tg.InputPhoneContact{{ClientID: 1, Phone: "15550009011",
		FirstName: "B"}})
	if err != nil || len(imp.Users) != 1 {
		t.Fatalf("import B: %+v %v", imp, err)
	}
	hashB, _ := imp.Users[0].(*tg.User).GetAccessHash()
	peerB := &tg.InputPeerUser{UserID: meB.ID, AccessHash: hashB}
	sendReq := &tg.MessagesSendMediaRequest{Peer: peerB, Message: "the small file", RandomID: 4242,
		Media: &tg.InputMediaUploadedDocument{File: small.in, MimeType: "application/x-test"}}
	sent, err := dev.API.MessagesSendMedia(ctx, sendReq)
	if err != nil {
		t.Fatalf("sendMedia: %v", err)
	}
	var sentID int
	for _, u := range sent.(*tg.Updates).Updates {
		if u, ok := u.(*tg.UpdateNewMessage); ok {
			m := u.Message.(*tg.Message)
			if _, ok := m.Media.(*tg.MessageMediaDocument); !ok || m.Message != "the small file" {
				t.Fatalf("sendMedia answer: %+v", m)
			}
			sentID = m.ID
		}
	}
	if again, err := dev.API.MessagesSendMedia(ctx, sendReq); err != nil {
		t.Fatalf("sendMedia retry: %v", err)
	} else if up := again.(*tg.Updates).Updates[0].(*tg.UpdateMessageID); up.ID != sentID {
		t.Fatalf("retry got message %d, first %d", up.ID, sentID)
	}
	var got *tg.Message
	for deadline := time.Now().Add(15 * time.Second); got == nil; {
		// B has no access hash of A yet: the dialog list brings the message (and A).
		d, err := devB.API.MessagesGetDialogs(ctx, &tg.MessagesGetDialogsRequest{OffsetPeer: &tg.InputPeerEmpty{},
			Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if ds, ok := d.(*tg.MessagesDialogs); ok {
			for _, m := range ds.Messages {
				if m, ok := m.(*tg.Message); ok && m.Media != nil {
					got = m
				}
			}
		}
		if got == nil && time.Now().After(deadline) {
			t.Fatal("B never got the media message")
		}
		time.Sleep(50 * time.Millisecond)
	}
	docB, ok := got.Media.(*tg.MessageMediaDocument).Document.(*tg.Document)
	if !ok || got.Message != "the small file" || docB.MimeType != "application/x-test" || docB.Size != int64(len(small.data)) {
		t.Fatalf("B's message: %+v", got)
	}
	forB := small
	forB.doc = docB
	download(devB.API, forB)

	// The sender removes the caption: the media stays.
	edit := &tg.MessagesEditMessageRequest{Peer: peerB, ID: sentID}
	edit.SetMessage("")
	edited, err := dev.API.MessagesEditMessage(ctx, edit)
	if err != nil {
		t.Fatalf("remove the caption: %v", err)
	}
	for _, u := range edited.(*tg.Updates).Updates {
		if u, ok := u.(*tg.UpdateEditMessage); ok {
			if m := u.Message.(*tg.Message); m.Message != "" || m.Media == nil {
				t.Fatalf("edited: %+v", m)
			}
		}
	}

	// A photo (a JPEG gotd uploads) sent to B: one size, the uploaded image, with its dimensions.
	var jpg bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 640, 480))
	for i := range img.Pix {
		img.Pix[i] = byte(rng.Uint32())
	}
	if err := jpeg.Encode(&jpg, img, nil); err != nil {
		t.Fatal(err)
	}
	photoIn, err := uploader.NewUploader(dev.API).FromBytes(ctx, "photo.jpg", jpg.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	sentPhoto, err := dev.API.MessagesSendMedia(ctx, &tg.MessagesSendMediaRequest{Peer: peerB, RandomID: 4343,
		Media: &tg.InputMediaUploadedPhoto{File: photoIn}})
	if err != nil {
		t.Fatalf("send photo: %v", err)
	}
	var photo *tg.Photo
	for _, u := range sentPhoto.(*tg.Updates).Updates {
		if u, ok := u.(*tg.UpdateNewMessage); ok {
			photo, _ = u.Message.(*tg.Message).Media.(*tg.MessageMediaPhoto).Photo.(*tg.Photo)
		}
	}
	if photo == nil || len(photo.Sizes) != 1 {
		t.Fatalf("send photo: %+v", sentPhoto)
	}
	if sz, ok := photo.Sizes[0].(*tg.PhotoSize); !ok || sz.W != 640 || sz.H != 480 || sz.Type != "x" || sz.Size != jpg.Len() {
		t.Fatalf("photo size: %+v", photo.Sizes[0])
	}
	var gotPhoto bytes.Buffer
	if _, err := downloader.NewDownloader().Download(devB.API, &tg.InputPhotoFileLocation{ID: photo.ID,
		AccessHash: photo.AccessHash, FileReference: photo.FileReference, ThumbSize: "x"}).Stream(ctx, &gotPhoto); err != nil ||
		!bytes.Equal(gotPhoto.Bytes(), jpg.Bytes()) {
		t.Fatalf("download photo: %d of %d bytes, %v", gotPhoto.Len(), jpg.Len(), err)
	}

	// An album resending both (inputMediaDocument, inputMediaPhoto: what the client was given comes back).
	album, err := dev.API.MessagesSendMultiMedia(ctx, &tg.MessagesSendMultiMediaRequest{Peer: peerB,
		MultiMedia: []tg.InputSingleMedia{
			{Media: &tg.InputMediaDocument{ID: small.doc.AsInput()}, RandomID: 5001, Message: "again"},
			{Media: &tg.InputMediaPhoto{ID: photo.AsInput()}, RandomID: 5002},
		}})
	if err != nil {
		t.Fatalf("sendMultiMedia: %v", err)
	}
	var resent []tg.MessageMediaClass
	groups := map[int64]int{}
	for _, u := range album.(*tg.Updates).Updates {
		if u, ok := u.(*tg.UpdateNewMessage); ok {
			m := u.Message.(*tg.Message)
			resent = append(resent, m.Media)
			g, _ := m.GetGroupedID()
			groups[g]++
		}
	}
	if len(resent) != 2 || len(groups) != 1 || groups[0] != 0 {
		t.Fatalf("sendMultiMedia: %d messages in albums %v", len(resent), groups)
	}
	if d, ok := resent[0].(*tg.MessageMediaDocument).Document.(*tg.Document); !ok || d.ID != small.doc.ID ||
		d.Size != small.doc.Size || d.MimeType != small.doc.MimeType || len(d.Attributes) != len(small.doc.Attributes) {
		t.Fatalf("resent document: %+v, first %+v", d, small.doc)
	}
	if p, ok := resent[1].(*tg.MessageMediaPhoto).Photo.(*tg.Photo); !ok || p.ID != photo.ID || len(p.Sizes) != 1 {
		t.Fatalf("resent photo: %+v", resent[1])
	}

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
	download(dev.API, big) // through node 0, its parts on nodes 0 and 1

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
	// A second device of the user, on node 1, downloads the documents made through node 0.
	dev2, err := tgclient.Start(ctx, tgclient.Options{Addr: c.Nodes[1].Client, PublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	defer dev2.Close()
	if _, err := dev2.Login(ctx, "15550009001", devCode, "Up", "Loader"); err != nil {
		t.Fatal(err)
	}
	download(dev2.API, small, big)
	forged := *big.doc
	forged.FileReference = bytes.Clone(forged.FileReference)
	forged.FileReference[3] ^= 1 // another owner
	if _, err := dev2.API.UploadGetFile(ctx, &tg.UploadGetFileRequest{Location: forged.AsInputDocumentFileLocation(""),
		Limit: 4096}); !tgerr.Is(err, "FILE_REFERENCE_INVALID") {
		t.Fatalf("forged file reference: %v", err)
	}
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
	c, _, dev := startWithDevice(t, ctx, testcluster.Options{Nodes: 1, Shards: 1})
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

	// messages.uploadMedia and upload.getFile.
	media := func(in tg.InputFileClass, mime string) error {
		_, err := dev.API.MessagesUploadMedia(ctx, &tg.MessagesUploadMediaRequest{Peer: &tg.InputPeerSelf{},
			Media: &tg.InputMediaUploadedDocument{File: in, MimeType: mime}})
		return err
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"file 2 lacks parts 0 and 1", media(&tg.InputFileBig{ID: 2, Parts: 3, Name: "x"}, "a/b"), "FILE_PART_MISSING"},
		{"never uploaded", media(&tg.InputFile{ID: 77, Parts: 1, Name: "x"}, "a/b"), "FILE_PART_MISSING"},
		{"no mime type", media(&tg.InputFileBig{ID: 2, Parts: 3, Name: "x"}, ""), "MIME_TYPE_INVALID"},
		{"a photo of missing parts", func() error {
			_, err := dev.API.MessagesUploadMedia(ctx, &tg.MessagesUploadMediaRequest{Peer: &tg.InputPeerSelf{},
				Media: &tg.InputMediaUploadedPhoto{File: &tg.InputFile{ID: 2, Parts: 3}}})
			return err
		}(), "FILE_PART_MISSING"},
		{"a contact", func() error {
			_, err := dev.API.MessagesUploadMedia(ctx, &tg.MessagesUploadMediaRequest{Peer: &tg.InputPeerSelf{},
				Media: &tg.InputMediaContact{PhoneNumber: "1"}})
			return err
		}(), "MEDIA_INVALID"},
	} {
		// gotd reads FILE_PART_0_MISSING as FILE_PART_MISSING with argument 0.
		if e, ok := tgerr.As(tc.err); !ok || e.Type != tc.want || e.Argument != 0 {
			t.Fatalf("%s: %v, want %s", tc.name, tc.err, tc.want)
		}
	}
	// File 3: two parts, the MD5 checked.
	two := append(bytes.Repeat([]byte{7}, 2048), 1, 2, 3)
	for i, p := range [][]byte{two[:2048], two[2048:]} {
		if _, err := dev.API.UploadSaveFilePart(ctx, &tg.UploadSaveFilePartRequest{FileID: 3, FilePart: i, Bytes: p}); err != nil {
			t.Fatal(err)
		}
	}
	if err := media(&tg.InputFile{ID: 3, Parts: 2, Name: "two", MD5Checksum: "00"}, "a/b"); !tgerr.Is(err, "MD5_CHECKSUM_INVALID") {
		t.Fatalf("wrong md5: %v", err)
	}
	if _, err := dev.API.MessagesUploadMedia(ctx, &tg.MessagesUploadMediaRequest{Peer: &tg.InputPeerSelf{},
		Media: &tg.InputMediaUploadedPhoto{File: &tg.InputFile{ID: 3, Parts: 2}}}); !tgerr.Is(err, "IMAGE_PROCESS_FAILED") {
		t.Fatalf("a photo that is not an image: %v", err)
	}
	sum := md5.Sum(two)
	res, err := dev.API.MessagesUploadMedia(ctx, &tg.MessagesUploadMediaRequest{Peer: &tg.InputPeerSelf{},
		Media: &tg.InputMediaUploadedDocument{File: &tg.InputFile{ID: 3, Parts: 2, Name: "two",
			MD5Checksum: hex.EncodeToString(sum[:])}, MimeType: "a/b"}})
	if err != nil {
		t.Fatal(err)
	}
	loc := res.(*tg.MessageMediaDocument).Document.(*tg.Document).AsInputDocumentFileLocation("")
	for _, tc := range []struct {
		name    string
		offset  int64
		limit   int
		precise bool
		want    []byte
		wantErr string
		loc     tg.InputFileLocationClass
	}{
		{name: "all", limit: 4096, want: two},
		{name: "second KiB", offset: 1024, limit: 1024, want: two[1024:2048]},
		{name: "across the parts", offset: 1024, limit: 2048, want: two[1024:]},
		{name: "past the end", offset: 4096, limit: 4096, want: []byte{}},
		{name: "odd limit", limit: 1000, wantErr: "LIMIT_INVALID"},
		{name: "over 1 MiB", limit: 2 << 20, wantErr: "LIMIT_INVALID"},
		{name: "odd offset", offset: 10, limit: 1024, wantErr: "OFFSET_INVALID"},
		{name: "across 1 MiB", offset: 1<<20 - 1024, limit: 2048, wantErr: "LIMIT_INVALID"},
		{name: "across 1 MiB, precise", offset: 1<<20 - 1024, limit: 2048, precise: true, want: []byte{}},
		{name: "a thumbnail", limit: 1024, wantErr: "LOCATION_INVALID", loc: &tg.InputDocumentFileLocation{ID: loc.ID,
			AccessHash: loc.AccessHash, FileReference: loc.FileReference, ThumbSize: "m"}},
		{name: "wrong access hash", limit: 1024, wantErr: "FILE_ID_INVALID", loc: &tg.InputDocumentFileLocation{ID: loc.ID,
			AccessHash: loc.AccessHash + 1, FileReference: loc.FileReference}},
	} {
		l := tc.loc
		if l == nil {
			l = loc
		}
		f, err := dev.API.UploadGetFile(ctx, &tg.UploadGetFileRequest{Location: l, Offset: tc.offset, Limit: tc.limit,
			Precise: tc.precise})
		if tc.wantErr != "" {
			if !tgerr.Is(err, tc.wantErr) {
				t.Fatalf("getFile %s: %v, want %s", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !bytes.Equal(f.(*tg.UploadFile).Bytes, tc.want) {
			t.Fatalf("getFile %s: %v %v", tc.name, f, err)
		}
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

// BenchmarkUploadDownload: gotd's uploader and downloader against three real processes (fsync on), one 10 MiB
// file per op each way: `go test -run '^$' -bench UploadDownload -benchtime 5x ./node/e2e/`.
func BenchmarkUploadDownload(b *testing.B) {
	ctx := context.Background()
	_, _, dev := startWithDevice(b, ctx, testcluster.Options{Shards: shards})
	if _, err := dev.Login(ctx, "15550009099", devCode, "Bench", "Files"); err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 10<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	var up, down time.Duration
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		start := time.Now()
		in, err := uploader.NewUploader(dev.API).FromBytes(ctx, "bench.bin", data)
		if err != nil {
			b.Fatal(err)
		}
		up += time.Since(start)
		res, err := dev.API.MessagesUploadMedia(ctx, &tg.MessagesUploadMediaRequest{Peer: &tg.InputPeerSelf{},
			Media: &tg.InputMediaUploadedDocument{File: in, MimeType: "application/octet-stream"}})
		if err != nil {
			b.Fatal(err)
		}
		doc := res.(*tg.MessageMediaDocument).Document.(*tg.Document)
		start = time.Now()
		var buf bytes.Buffer
		if _, err := downloader.NewDownloader().Download(dev.API, doc.AsInputDocumentFileLocation("")).Stream(ctx, &buf); err != nil || buf.Len() != len(data) {
			b.Fatalf("download: %d bytes, %v", buf.Len(), err)
		}
		down += time.Since(start)
	}
	mb := float64(len(data)) / 1e6 * float64(b.N)
	b.ReportMetric(mb/up.Seconds(), "upload-MB/s")
	b.ReportMetric(mb/down.Seconds(), "download-MB/s")
}
