package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/raftgram/raftgram/gateway/transport"
)

// input runs on the event loop with bytes just read: WebSocket upgrade, WebSocket frames, or the plain stream.
func (c *conn) input(p []byte) error {
	if c.up != nil {
		resp, n, err := c.up.Feed(p)
		if err != nil {
			return fmt.Errorf("%w: %w", errBadTransport, err)
		}
		if resp == nil {
			return nil
		}
		c.up = nil
		c.ws = new(transport.WSReader)
		c.det = new(transport.Detector)
		if err := c.writeRaw(resp); err != nil {
			return err
		}
		p = p[n:]
	}
	if c.ws != nil {
		return c.ws.Decode(p, c.stream, c.control)
	}
	return c.stream(p)
}

// errBadTransport marks detection and upgrade failures for the metrics.
var errBadTransport = errors.New("not an MTProto transport")

// stream handles the MTProto byte stream (inside the WebSocket for WebSocket connections).
func (c *conn) stream(p []byte) error {
	if c.det != nil {
		res, n, err := c.det.Feed(p, transport.Config{
			MaxFrame:       c.srv.opts.MaxFrame,
			Rand:           c.srv.opts.Rand,
			AllowHTTP:      c.ws == nil,
			OnlyObfuscated: c.ws != nil,
		})
		if err != nil {
			return fmt.Errorf("%w: %w", errBadTransport, err)
		}
		if res == nil {
			return nil
		}
		c.det = nil
		p = p[n:]
		if res.HTTP {
			c.up = new(transport.Upgrade)
			if _, _, err := c.up.Feed(res.Replay); err != nil {
				return fmt.Errorf("%w: %w", errBadTransport, err)
			}
			return c.input(p)
		}
		c.open(res.Codec)
		if len(res.Replay) > 0 {
			if err := c.rcodec.Decode(res.Replay, c.emit); err != nil {
				return err
			}
		}
	}
	if len(p) == 0 {
		return nil
	}
	return c.rcodec.Decode(p, c.emit)
}

// open records the detected codec and tells the handler.
func (c *conn) open(codec transport.Codec) {
	name := codec.Name()
	if c.ws != nil {
		name += "+ws"
	}
	c.wmu.Lock()
	c.wcodec, c.name, c.wsOut = codec, name, c.ws != nil
	c.wmu.Unlock()
	c.rcodec = codec
	c.flags.Or(flagOpened)
	c.srv.metrics.Opened.Add(1)
	c.srv.h.OnOpen(c)
}

func (c *conn) emit(frame []byte, quick bool) error {
	if c.closing() {
		return ErrClosed
	}
	c.srv.metrics.FramesIn.Add(1)
	c.srv.h.OnFrame(c, frame, quick)
	return nil
}

// control answers WebSocket control frames: ping gets pong, close gets close and ends the connection.
func (c *conn) control(op uint8, payload []byte) error {
	switch op {
	case transport.WSPing:
		return c.writeRaw(transport.AppendWSFrame(nil, transport.WSPong, payload))
	case transport.WSClose:
		code := payload
		if len(code) > 2 {
			code = code[:2]
		}
		_ = c.writeRaw(transport.AppendWSFrame(nil, transport.WSClose, code))
		c.closeWith(errors.New("edge: websocket closed by client"))
		return ErrClosed
	}
	return nil // pong: nothing to do
}

// writeRaw queues bytes outside the MTProto framing (upgrade response, WebSocket control frames).
func (c *conn) writeRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closing() {
		return ErrClosed
	}
	return c.enqueueLocked(b)
}

// fail closes the connection for an input error, counting and logging it.
func (c *conn) fail(err error) {
	m := &c.srv.metrics
	switch {
	case errors.Is(err, errBadTransport):
		m.BadTransport.Add(1)
	case errors.Is(err, transport.ErrFrameTooLarge):
		m.FrameTooLarge.Add(1)
	default:
		m.ProtocolError.Add(1)
	}
	level := slog.LevelInfo
	if errors.Is(err, errBadTransport) {
		level = slog.LevelDebug // scanners and stray HTTP clients are routine on a public port
	}
	c.srv.log.Log(context.Background(), level, "edge: closing connection", "id", c.id, "remote", c.addr, "err", err)
	c.closeWith(err)
}
