package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/raftgram/raftgram/files"
	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/access"
	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/node/messenger"
	"github.com/raftgram/raftgram/node/rpc"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
)

// Telegram's limits on parts (https://core.telegram.org/api/files).
const (
	// maxSmallParts: a small file (upload.saveFilePart) has parts 0..3999.
	maxSmallParts = 4000
	// maxBigParts: a big file (upload.saveBigFilePart) has at most 4000 parts (2 GiB of 512 KiB parts).
	maxBigParts = 4000
	// partUnit: every part but the last of a big file is a multiple of 1 KiB that divides 512 KiB.
	partUnit = 1024
)

var (
	errPartInvalid     = handler.BadRequest("FILE_PART_INVALID")
	errPartEmpty       = handler.BadRequest("FILE_PART_EMPTY")
	errPartTooBig      = handler.BadRequest("FILE_PART_TOO_BIG")
	errPartsInvalid    = handler.BadRequest("FILE_PARTS_INVALID")
	errPartSizeInvalid = handler.BadRequest("FILE_PART_SIZE_INVALID")
)

// Domain serves the upload methods and this node's share of the chunk store.
type Domain struct {
	n      *node.Node
	log    *slog.Logger
	access access.Hasher
	clock  func() time.Time
	rand   io.Reader
	local  *files.Local
	store  *files.Store
}

var _ messenger.Domain = (*Domain)(nil)

// New is the domain's messenger.Builder: it opens this node's shard database.
func New(d messenger.Deps) (messenger.Domain, error) {
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("domain", "upload")
	local, err := files.OpenLocal(filepath.Join(d.Node.DataDir().Path, "chunks"), files.LocalOptions{Logger: log})
	if err != nil {
		return nil, err
	}
	h := &Domain{n: d.Node, log: log, access: d.Access, clock: d.Clock, rand: d.Rand, local: local}
	h.store = files.NewStore(files.StoreOptions{Nodes: h.nodes, Clock: d.Clock, Rand: d.Rand, Log: log})
	if d.Services != nil {
		d.Services.Media = h
	}
	return h, nil
}

// nodes lists the cluster's members as the store's nodes: this one directly, the others over RPC.
func (h *Domain) nodes() []files.Node {
	peers := h.n.Peers()
	out := make([]files.Node, 0, len(peers))
	for _, p := range peers {
		if p.Self {
			out = append(out, files.Self{NodeID: p.ID, Local: h.local})
		} else {
			out = append(out, peerNode{n: h.n, peer: p})
		}
	}
	return out
}

// Extension implements messenger.Domain: the shard RPC methods, and /debug/files with the debug API.
func (h *Domain) Extension() node.Extension {
	e := node.Extension{RPC: map[byte]rpc.HandlerFunc{
		rpcPutShard: h.servePut,
		rpcShards:   h.serveShards,
		rpcTrim:     h.serveTrim,
	}}
	if h.n.DebugAPI() {
		e.Admin = map[string]http.Handler{"/debug/files": http.HandlerFunc(h.debugFiles)}
	}
	return e
}

// Register implements messenger.Domain.
func (h *Domain) Register(r *handler.Router) {
	handler.Handle(r, h.saveFilePart)
	handler.Handle(r, h.saveBigFilePart)
	handler.Handle(r, h.uploadMedia)
	handler.Handle(r, h.getFile)
}

// Start implements messenger.Domain (nothing runs in the background but the store's trims).
func (h *Domain) Start(context.Context) error { return nil }

// Close implements messenger.Domain: background trims stop, the shard database closes.
func (h *Domain) Close() error {
	h.store.Close()
	return h.local.Close()
}

func (h *Domain) saveFilePart(ctx context.Context, c *handler.Call, req *api.UploadSaveFilePartRequest) (tl.Object, error) {
	if req.FilePart < 0 || req.FilePart >= maxSmallParts {
		return nil, errPartInvalid
	}
	return h.put(ctx, c, req.FileID, req.FilePart, req.Bytes)
}

func (h *Domain) saveBigFilePart(ctx context.Context, c *handler.Call, req *api.UploadSaveBigFilePartRequest) (tl.Object, error) {
	switch {
	case req.FileTotalParts < 1 || req.FileTotalParts > maxBigParts:
		return nil, errPartsInvalid
	case req.FilePart < 0 || req.FilePart >= req.FileTotalParts:
		return nil, errPartInvalid
	}
	last := req.FilePart == req.FileTotalParts-1
	if n := len(req.Bytes); !last && n > 0 && n <= files.MaxPart && (n%partUnit != 0 || files.MaxPart%n != 0) {
		return nil, errPartSizeInvalid
	}
	return h.put(ctx, c, req.FileID, req.FilePart, req.Bytes)
}

func (h *Domain) put(ctx context.Context, c *handler.Call, fileID int64, part int32, b []byte) (tl.Object, error) {
	switch {
	case len(b) == 0:
		return nil, errPartEmpty
	case len(b) > files.MaxPart:
		return nil, errPartTooBig
	}
	if err := h.store.Put(ctx, files.Key{Owner: c.UserID, File: fileID, Part: part}, b); err != nil {
		if errors.Is(err, files.ErrUnavailable) {
			h.log.Warn("part not stored", "user", c.UserID, "file", fileID, "part", part, "err", err)
			return nil, handler.ErrInternal // the client retries the part
		}
		return nil, err
	}
	return api.BoolOf(true), nil
}

// debugFiles serves GET /debug/files?owner=&file=&part= : the part's bytes, read through the store.
func (h *Domain) debugFiles(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	owner, err1 := strconv.ParseInt(q.Get("owner"), 10, 64)
	file, err2 := strconv.ParseInt(q.Get("file"), 10, 64)
	part, err3 := strconv.ParseInt(q.Get("part"), 10, 32)
	if err := errors.Join(err1, err2, err3); err != nil {
		http.Error(w, fmt.Sprintf("owner, file, part: %v", err), http.StatusBadRequest)
		return
	}
	b, err := h.store.Get(r.Context(), files.Key{Owner: owner, File: file, Part: int32(part)})
	switch {
	case errors.Is(err, files.ErrNotFound):
		http.Error(w, err.Error(), http.StatusNotFound)
	case err != nil:
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	default:
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(b)
	}
}
