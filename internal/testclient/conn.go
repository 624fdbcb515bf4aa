package testclient

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/raftgram/raftgram/gateway/handshake"
)

// Conn is a client connection using the intermediate transport.
type Conn struct {
	c     net.Conn
	r     *bufio.Reader // frames are read through it: one read syscall for a header and its body
	msgID int64
}

// Dial connects to addr and sends the intermediate transport tag.
func Dial(ctx context.Context, addr string) (*Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write([]byte{0xee, 0xee, 0xee, 0xee}); err != nil {
		c.Close()
		return nil, err
	}
	return &Conn{c: c, r: bufio.NewReader(c)}, nil
}

// Close closes the socket.
func (c *Conn) Close() error { return c.c.Close() }

// SetDeadline sets the socket deadline.
func (c *Conn) SetDeadline(t time.Time) error { return c.c.SetDeadline(t) }

// WriteFrame sends one frame; quickAck sets the quick-ack bit of the length.
func (c *Conn) WriteFrame(b []byte, quickAck bool) error {
	n := uint32(len(b))
	if quickAck {
		n |= 1 << 31
	}
	buf := binary.LittleEndian.AppendUint32(make([]byte, 0, 4+len(b)), n)
	_, err := c.c.Write(append(buf, b...))
	return err
}

// WriteRaw writes bytes as they are (for malformed-frame tests).
func (c *Conn) WriteRaw(b []byte) error {
	_, err := c.c.Write(b)
	return err
}

// TransportError is a 4-byte negative frame from the server (e.g. -404).
type TransportError struct{ Code int32 }

func (e *TransportError) Error() string { return fmt.Sprintf("transport error %d", e.Code) }

// QuickAck is a quick-ack token received instead of a frame.
type QuickAck struct{ Token uint32 }

func (q *QuickAck) Error() string { return fmt.Sprintf("quick ack %#x", q.Token) }

// ReadFrame reads one frame; a quick ack or a transport error comes back as *QuickAck / *TransportError.
func (c *Conn) ReadFrame() ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(h[:])
	if n&(1<<31) != 0 {
		return nil, &QuickAck{Token: n}
	}
	if n > 16<<20 {
		return nil, errors.New("frame too large")
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c.r, b); err != nil {
		return nil, err
	}
	if n == 4 {
		return nil, &TransportError{Code: int32(binary.LittleEndian.Uint32(b))}
	}
	return b, nil
}

// PlainRoundTrip returns a RoundTrip sending unencrypted messages on c.
func (c *Conn) PlainRoundTrip() RoundTrip {
	return func(ctx context.Context, body []byte) ([]byte, error) {
		c.msgID = nextMsgID(c.msgID, time.Now())
		if d, ok := ctx.Deadline(); ok {
			_ = c.c.SetDeadline(d)
		}
		if err := c.WriteFrame(handshake.AppendPlain(nil, c.msgID, body), false); err != nil {
			return nil, err
		}
		f, err := c.ReadFrame()
		if err != nil {
			return nil, err
		}
		_, ans, err := handshake.ParsePlain(f)
		return ans, err
	}
}

// nextMsgID returns a client msg_id (≡ 0 mod 4) after last, from the clock.
func nextMsgID(last int64, now time.Time) int64 {
	v := (now.Unix()<<32 | int64(now.Nanosecond())) &^ 3
	if v <= last {
		v = last + 4
	}
	return v
}
