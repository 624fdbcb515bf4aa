package upload

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/raftgram/raftgram/files"
	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
)

// A document (or photo) is an uploaded file turned into media (messages.uploadMedia, messages.sendMedia). It is
// not stored anywhere: where its bytes are (the uploader, the file id, the part count, part size and total size)
// and what it is (its layer-227 TL without the reference: mime type, attributes, sizes, date) travel in its
// file_reference, sealed with a MAC under the cluster secret. So upload.getFile finds the parts, and
// inputMediaDocument / inputMediaPhoto give the same media back, with nothing but what the client echoes, on
// any node. The access hash is a MAC of the id.
//
// file_reference: locator (locatorLen bytes) | media TL | MAC (tagLen bytes) over id | locator | media TL.

const (
	locatorVersion = 1
	// version(1) owner(8) file(8) parts(4) partSize(4) size(8)
	locatorLen = 1 + 8 + 8 + 4 + 4 + 8
	tagLen     = 16
	// maxSmallFile: Telegram's limit for a file uploaded with upload.saveFilePart (10 MiB).
	maxSmallFile = 10 << 20
	// maxGetFileLimit: upload.getFile returns at most 1 MiB per call.
	maxGetFileLimit = 1 << 20
	// maxMediaMeta bounds the media TL sealed in a reference (attributes are a few hundred bytes in practice).
	maxMediaMeta = 4 << 10
)

var (
	errMediaInvalid    = handler.BadRequest("MEDIA_INVALID")
	errMD5Invalid      = handler.BadRequest("MD5_CHECKSUM_INVALID")
	errFileTooBig      = handler.BadRequest("FILE_PARTS_INVALID")
	errLocationInvalid = handler.BadRequest("LOCATION_INVALID")
	errFileReference   = handler.BadRequest("FILE_REFERENCE_INVALID")
	errLimitInvalid    = handler.BadRequest("LIMIT_INVALID")
	errOffsetInvalid   = handler.BadRequest("OFFSET_INVALID")
	errMimeTypeInvalid = handler.BadRequest("MIME_TYPE_INVALID")
	errFileIDInvalid   = handler.BadRequest("FILE_ID_INVALID")
	partMissingFormat  = "FILE_PART_%d_MISSING"
)

// locator says where a document's bytes are.
type locator struct {
	Owner, File int64
	Parts       int32
	PartSize    int32 // of every part but the last
	Size        int64
}

func (l locator) encode() []byte {
	b := make([]byte, 0, locatorLen)
	b = append(b, locatorVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(l.Owner))
	b = binary.BigEndian.AppendUint64(b, uint64(l.File))
	b = binary.BigEndian.AppendUint32(b, uint32(l.Parts))
	b = binary.BigEndian.AppendUint32(b, uint32(l.PartSize))
	return binary.BigEndian.AppendUint64(b, uint64(l.Size))
}

func decodeLocator(b []byte) (locator, bool) {
	if len(b) != locatorLen || b[0] != locatorVersion {
		return locator{}, false
	}
	l := locator{Owner: int64(binary.BigEndian.Uint64(b[1:])), File: int64(binary.BigEndian.Uint64(b[9:])),
		Parts: int32(binary.BigEndian.Uint32(b[17:])), PartSize: int32(binary.BigEndian.Uint32(b[21:])),
		Size: int64(binary.BigEndian.Uint64(b[25:]))}
	ok := l.Parts >= 1 && l.PartSize >= 1 && l.PartSize <= files.MaxPart && l.Size >= 1 &&
		l.Size > int64(l.Parts-1)*int64(l.PartSize) && l.Size <= int64(l.Parts)*int64(l.PartSize)
	return l, ok
}

// docData is what a reference's MAC covers: the media's id and the reference's body (locator, media TL).
func docData(id int64, body []byte) []byte {
	return append(binary.BigEndian.AppendUint64(nil, uint64(id)), body...)
}

func (h *Domain) docAccessHash(id int64) int64 {
	return int64(binary.BigEndian.Uint64(h.access.Tag('d', binary.BigEndian.AppendUint64(nil, uint64(id)))))
}

// fileReference seals the locator and the media's TL (meta) to the media's id.
func (h *Domain) fileReference(id int64, l locator, meta []byte) []byte {
	body := append(l.encode(), meta...)
	return append(body, h.access.Tag('f', docData(id, body))...)
}

// openReference checks a client's location of a document or photo and returns where its bytes are and the
// media's TL sealed with them.
func (h *Domain) openReference(id, accessHash int64, ref []byte) (locator, []byte, error) {
	if !hmac.Equal(binary.BigEndian.AppendUint64(nil, uint64(h.docAccessHash(id))),
		binary.BigEndian.AppendUint64(nil, uint64(accessHash))) {
		return locator{}, nil, errFileIDInvalid
	}
	if len(ref) < locatorLen+tagLen || len(ref) > locatorLen+maxMediaMeta+tagLen {
		return locator{}, nil, errFileReference
	}
	body, tag := ref[:len(ref)-tagLen], ref[len(ref)-tagLen:]
	if !hmac.Equal(tag, h.access.Tag('f', docData(id, body))) {
		return locator{}, nil, errFileReference
	}
	l, ok := decodeLocator(body[:locatorLen])
	if !ok {
		return locator{}, nil, errFileReference
	}
	return l, body[locatorLen:], nil
}

// seal gives a new document or photo x (id, access hash set) its file reference: x's own TL without the
// reference, sealed with the locator.
func (h *Domain) seal(id int64, l locator, x tl.Object, setRef func([]byte)) error {
	setRef(nil)
	meta, err := tl.Marshal(x)
	if err != nil {
		return err
	}
	if len(meta) > maxMediaMeta {
		return errMediaInvalid
	}
	setRef(h.fileReference(id, l, meta))
	return nil
}

// resent is the media a client resends: the TL sealed in its reference (so its id is the one the client
// names), with the reference the client holds.
func resent[T interface {
	tl.Object
	comparable
}](h *Domain, id, accessHash int64, ref []byte, decode func(*tl.Decoder) T) (T, error) {
	var zero T
	_, meta, err := h.openReference(id, accessHash, ref)
	if err != nil {
		return zero, err
	}
	d := tl.NewDecoder(meta, nil)
	x := decode(d)
	if d.Err() != nil || x == zero {
		return zero, errMediaInvalid
	}
	switch x := any(x).(type) {
	case *api.Document:
		x.FileReference = ref
	case *api.Photo:
		x.FileReference = ref
	default:
		return zero, errMediaInvalid // documentEmpty, photoEmpty: never sealed
	}
	return x, nil
}

// uploadMedia turns an uploaded file into a document or photo the caller can download (upload.getFile).
func (h *Domain) uploadMedia(ctx context.Context, c *handler.Call, req *api.MessagesUploadMediaRequest) (tl.Object, error) {
	if _, err := h.access.InputPeer(c.UserID, req.Peer); err != nil {
		return nil, err
	}
	return h.MessageMedia(ctx, c, req.Media)
}

// MessageMedia implements handler.Media: an uploaded document becomes a document, an uploaded photo a photo
// (messages.uploadMedia and messages.sendMedia).
func (h *Domain) MessageMedia(ctx context.Context, c *handler.Call, media api.InputMediaClass) (api.MessageMediaClass, error) {
	switch m := media.(type) {
	case *api.InputMediaUploadedPhoto:
		photo, err := h.newPhoto(ctx, c, m.File)
		if err != nil {
			return nil, err
		}
		return &api.MessageMediaPhoto{Photo: photo}, nil
	case *api.InputMediaDocument:
		in, ok := m.ID.(*api.InputDocument)
		if !ok {
			return nil, errMediaInvalid
		}
		doc, err := resent(h, in.ID, in.AccessHash, in.FileReference, api.DecodeDocumentClass)
		if err != nil {
			return nil, err
		}
		return &api.MessageMediaDocument{Document: doc}, nil
	case *api.InputMediaPhoto:
		in, ok := m.ID.(*api.InputPhoto)
		if !ok {
			return nil, errMediaInvalid
		}
		photo, err := resent(h, in.ID, in.AccessHash, in.FileReference, api.DecodePhotoClass)
		if err != nil {
			return nil, err
		}
		return &api.MessageMediaPhoto{Photo: photo}, nil
	}
	in, ok := media.(*api.InputMediaUploadedDocument)
	if !ok {
		return nil, errMediaInvalid
	}
	if in.MimeType == "" || len(in.MimeType) > 256 || !strings.Contains(in.MimeType, "/") {
		return nil, errMimeTypeInvalid
	}
	doc, err := h.newDocument(ctx, c, in.File, in.MimeType, in.Attributes)
	if err != nil {
		return nil, err
	}
	return &api.MessageMediaDocument{Document: doc}, nil
}

// checkedUpload is an uploaded file checkUpload accepted: where its bytes are, and the name the client gave it.
type checkedUpload struct {
	loc  locator
	name string
}

// checkUpload checks an uploaded file: its first and last part exist, the part size is one Telegram allows, a
// small file is at most 10 MiB, and the MD5 matches if the client gave one.
func (h *Domain) checkUpload(ctx context.Context, c *handler.Call, f api.InputFileClass) (checkedUpload, error) {
	var (
		fileID int64
		parts  int32
		name   string
		sum    string
		big    bool
	)
	switch f := f.(type) {
	case *api.InputFile:
		fileID, parts, name, sum = f.ID, f.Parts, f.Name, f.MD5Checksum
	case *api.InputFileBig:
		fileID, parts, name, big = f.ID, f.Parts, f.Name, true
	default:
		return checkedUpload{}, errMediaInvalid
	}
	if parts < 1 || (!big && parts > maxSmallParts) || (big && parts > maxBigParts) {
		return checkedUpload{}, errPartsInvalid
	}
	l := locator{Owner: c.UserID, File: fileID, Parts: parts}
	first, err := h.part(ctx, l, 0)
	if err != nil {
		return checkedUpload{}, err
	}
	l.PartSize, l.Size = int32(len(first)), int64(len(first))
	if parts > 1 {
		if len(first)%partUnit != 0 || files.MaxPart%len(first) != 0 {
			return checkedUpload{}, errPartSizeInvalid
		}
		last, err := h.part(ctx, l, parts-1)
		if err != nil {
			return checkedUpload{}, err
		}
		if len(last) > len(first) {
			return checkedUpload{}, errPartSizeInvalid
		}
		l.Size = int64(parts-1)*int64(len(first)) + int64(len(last))
	}
	if !big && l.Size > maxSmallFile {
		return checkedUpload{}, errFileTooBig
	}
	if sum != "" {
		// A small file's MD5 covers every part: reading them also proves none is missing.
		m := md5.New()
		if _, err := io.Copy(m, h.reader(ctx, l)); err != nil {
			return checkedUpload{}, err
		}
		if !strings.EqualFold(hex.EncodeToString(m.Sum(nil)), sum) {
			return checkedUpload{}, errMD5Invalid
		}
	}
	return checkedUpload{loc: l, name: name}, nil
}

// part reads part p of an uploaded file; FILE_PART_<p>_MISSING if no node has it, 500 if too few nodes answer.
func (h *Domain) part(ctx context.Context, l locator, p int32) ([]byte, error) {
	b, err := h.store.Get(ctx, files.Key{Owner: l.Owner, File: l.File, Part: p})
	switch {
	case errors.Is(err, files.ErrNotFound):
		return nil, handler.BadRequest(fmt.Sprintf(partMissingFormat, p))
	case err != nil:
		h.log.Warn("part not read", "owner", l.Owner, "file", l.File, "part", p, "err", err)
		return nil, handler.ErrInternal
	}
	return b, nil
}

// reader reads an uploaded file from its first part on, one part in memory at a time; a part of the wrong
// size (all but the last must be PartSize) is FILE_PART_SIZE_INVALID.
func (h *Domain) reader(ctx context.Context, l locator) io.Reader {
	return &partReader{h: h, ctx: ctx, l: l}
}

type partReader struct {
	h    *Domain
	ctx  context.Context
	l    locator
	next int32
	buf  []byte
}

func (r *partReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.next >= r.l.Parts {
			return 0, io.EOF
		}
		b, err := r.h.part(r.ctx, r.l, r.next)
		if err != nil {
			return 0, err
		}
		if r.next < r.l.Parts-1 && len(b) != int(r.l.PartSize) {
			return 0, errPartSizeInvalid
		}
		r.buf, r.next = b, r.next+1
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// newDocument describes a checked upload as a document.
func (h *Domain) newDocument(ctx context.Context, c *handler.Call, f api.InputFileClass, mime string,
	attrs []api.DocumentAttributeClass) (*api.Document, error) {
	up, err := h.checkUpload(ctx, c, f)
	if err != nil {
		return nil, err
	}
	id, err := handler.RandomID(h.rand)
	if err != nil {
		return nil, err
	}
	hasName := false
	for _, a := range attrs {
		_, isName := a.(*api.DocumentAttributeFilename)
		hasName = hasName || isName
	}
	if !hasName && up.name != "" {
		attrs = append(attrs, &api.DocumentAttributeFilename{FileName: up.name})
	}
	d := &api.Document{ID: id, AccessHash: h.docAccessHash(id), Date: int32(h.clock().Unix()), MimeType: mime,
		Size: up.loc.Size, DCID: 1, Attributes: nonNil(attrs)}
	if err := h.seal(id, up.loc, d, func(ref []byte) { d.FileReference = ref }); err != nil {
		return nil, err
	}
	return d, nil
}

// getFile serves limit bytes of a document from offset: offset and limit multiples of 1 KiB, limit at most
// 1 MiB, and without the precise flag the range stays inside one 1 MiB block (Telegram's rules, less strict
// about 4 KiB alignment).
func (h *Domain) getFile(ctx context.Context, c *handler.Call, req *api.UploadGetFileRequest) (tl.Object, error) {
	var (
		l   locator
		err error
	)
	switch loc := req.Location.(type) {
	case *api.InputDocumentFileLocation:
		if loc.ThumbSize != "" { // documents have no thumbnails here
			return nil, errLocationInvalid
		}
		l, _, err = h.openReference(loc.ID, loc.AccessHash, loc.FileReference)
	case *api.InputPhotoFileLocation:
		if len(loc.ThumbSize) != 1 || !strings.Contains("mxywz", loc.ThumbSize) { // the one size newPhoto gives
			return nil, errLocationInvalid
		}
		l, _, err = h.openReference(loc.ID, loc.AccessHash, loc.FileReference)
	default:
		return nil, errLocationInvalid
	}
	if err != nil {
		return nil, err
	}
	switch {
	case req.Limit <= 0 || req.Limit > maxGetFileLimit || req.Limit%partUnit != 0:
		return nil, errLimitInvalid
	case req.Offset < 0 || req.Offset%partUnit != 0:
		return nil, errOffsetInvalid
	case !req.Precise && req.Offset/maxGetFileLimit != (req.Offset+int64(req.Limit)-1)/maxGetFileLimit:
		return nil, errLimitInvalid
	}
	end := min(req.Offset+int64(req.Limit), l.Size)
	var out []byte
	for off := req.Offset; off < end; {
		p := int32(off / int64(l.PartSize))
		b, err := h.store.Get(ctx, files.Key{Owner: l.Owner, File: l.File, Part: p})
		if err != nil {
			h.log.Warn("document part not read", "owner", l.Owner, "file", l.File, "part", p, "err", err)
			return nil, handler.ErrInternal
		}
		start := off - int64(p)*int64(l.PartSize)
		if start >= int64(len(b)) {
			break // a part shorter than its locator says: the file ends here
		}
		b = b[start:min(int64(len(b)), start+end-off)]
		out = append(out, b...)
		off += int64(len(b))
	}
	if out == nil {
		out = []byte{}
	}
	return &api.UploadFile{Type: &api.StorageFilePartial{}, Mtime: 0, Bytes: out}, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
