package upload

import (
	"context"
	"errors"
	"image"
	_ "image/gif" // image.DecodeConfig of uploaded photos
	_ "image/jpeg"
	_ "image/png"
	"io"

	"github.com/raftgram/raftgram/gateway"
	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/tl/api"
)

// maxPhotoSide bounds a photo's width and height (PHOTO_INVALID_DIMENSIONS past it).
const maxPhotoSide = 10000

var errImageProcess = handler.BadRequest("IMAGE_PROCESS_FAILED")

// photoSizeType is Telegram's letter for a size whose longer side is side pixels.
func photoSizeType(side int) string {
	switch {
	case side <= 320:
		return "m"
	case side <= 800:
		return "x"
	case side <= 1280:
		return "y"
	case side <= 2560:
		return "w"
	}
	return "z"
}

// newPhoto describes a checked upload (JPEG, PNG or GIF; its dimensions read from the header) as a photo with
// one size, the image as uploaded. No smaller sizes are made: clients show that one (no thumbnails, no
// re-encoding yet).
func (h *Domain) newPhoto(ctx context.Context, c *handler.Call, f api.InputFileClass) (*api.Photo, error) {
	if _, small := f.(*api.InputFile); !small {
		return nil, errMediaInvalid // a photo is a small file
	}
	up, err := h.checkUpload(ctx, c, f)
	if err != nil {
		return nil, err
	}
	cfg, _, err := image.DecodeConfig(io.LimitReader(h.reader(ctx, up.loc), up.loc.Size))
	if err != nil {
		var rpc *gateway.RPCError
		if errors.As(err, &rpc) {
			return nil, err
		}
		return nil, errImageProcess
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > maxPhotoSide || cfg.Height > maxPhotoSide {
		return nil, handler.BadRequest("PHOTO_INVALID_DIMENSIONS")
	}
	id, err := handler.RandomID(h.rand)
	if err != nil {
		return nil, err
	}
	size := &api.PhotoSize{Type: photoSizeType(max(cfg.Width, cfg.Height)), W: int32(cfg.Width), H: int32(cfg.Height),
		Size: int32(up.loc.Size)}
	p := &api.Photo{ID: id, AccessHash: h.docAccessHash(id), Date: int32(h.clock().Unix()),
		Sizes: []api.PhotoSizeClass{size}, DCID: 1}
	if err := h.seal(id, up.loc, p, func(ref []byte) { p.FileReference = ref }); err != nil {
		return nil, err
	}
	return p, nil
}
