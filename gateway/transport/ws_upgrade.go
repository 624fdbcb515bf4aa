package transport

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// WSPath is the only path upgraded to a WebSocket; WSSubprotocol the subprotocol echoed when offered.
const (
	WSPath         = "/apiws"
	WSSubprotocol  = "binary"
	maxRequestHead = 4096
	wsGUID         = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
)

// ErrNotWebSocket reports an HTTP request that is not a WebSocket upgrade to WSPath.
var ErrNotWebSocket = errors.New("not a websocket upgrade")

// Upgrade reads an HTTP/1.1 WebSocket upgrade request head (RFC 6455 section 4.2) of at most 4 KiB. Its
// zero value is ready; drop it after the upgrade.
type Upgrade struct {
	head []byte
}

// Feed consumes bytes of the request head. Once the head is complete it returns the 101 response to send
// and n, the bytes of p consumed (the rest is WebSocket frames); before that it consumes all of p and
// returns a nil response.
func (u *Upgrade) Feed(p []byte) (resp []byte, n int, err error) {
	start := len(u.head)
	// Search from three bytes back: the terminator may straddle two inputs.
	from := max(start-3, 0)
	take := min(len(p), maxRequestHead-start)
	u.head = append(u.head, p[:take]...)
	i := bytes.Index(u.head[from:], []byte("\r\n\r\n"))
	if i < 0 {
		if len(u.head) >= maxRequestHead {
			return nil, take, fmt.Errorf("websocket: request head over %d bytes", maxRequestHead)
		}
		return nil, take, nil
	}
	end := from + i + 4
	resp, err = upgradeResponse(u.head[:end])
	u.head = nil
	return resp, end - start, err
}

func upgradeResponse(head []byte) ([]byte, error) {
	lines := strings.Split(string(head[:len(head)-4]), "\r\n")
	parts := strings.Fields(lines[0])
	if len(parts) != 3 || parts[0] != "GET" || !strings.HasPrefix(parts[2], "HTTP/1.") {
		return nil, fmt.Errorf("%w: request line %q", ErrNotWebSocket, lines[0])
	}
	path := parts[1]
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if path != WSPath {
		return nil, fmt.Errorf("%w: path %q", ErrNotWebSocket, parts[1])
	}
	var key, version string
	var upgrade, connUpgrade, binary bool
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("%w: bad header line", ErrNotWebSocket)
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "upgrade":
			upgrade = hasToken(value, "websocket")
		case "connection":
			connUpgrade = hasToken(value, "upgrade")
		case "sec-websocket-key":
			key = value
		case "sec-websocket-version":
			version = value
		case "sec-websocket-protocol":
			binary = binary || hasToken(value, WSSubprotocol)
		}
	}
	if !upgrade || !connUpgrade || version != "13" {
		return nil, fmt.Errorf("%w: missing upgrade headers", ErrNotWebSocket)
	}
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		return nil, fmt.Errorf("%w: bad Sec-WebSocket-Key", ErrNotWebSocket)
	}
	sum := sha1.Sum([]byte(key + wsGUID))
	var b strings.Builder
	b.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ")
	b.WriteString(base64.StdEncoding.EncodeToString(sum[:]))
	if binary {
		b.WriteString("\r\nSec-WebSocket-Protocol: " + WSSubprotocol)
	}
	b.WriteString("\r\n\r\n")
	return []byte(b.String()), nil
}

// hasToken reports whether a comma-separated header value holds token, case-insensitively.
func hasToken(value, token string) bool {
	for _, t := range strings.Split(value, ",") {
		if strings.EqualFold(strings.TrimSpace(t), token) {
			return true
		}
	}
	return false
}
