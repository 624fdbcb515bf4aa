package session

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftgram/raftgram/gateway/crypto"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
	"github.com/raftgram/raftgram/tl/mt"
)

// Conn is the part of a client connection a session needs.
type Conn interface {
	ID() uint64
	Send(frame []byte) error
	// DisconnectAfter closes the connection after d unless called again before (ping_delay_disconnect); d <= 0
	// cancels.
	DisconnectAfter(d time.Duration)
}

// RPCError is an error answer to an API call (rpc_error).
type RPCError struct {
	Code    int32
	Message string
}

func (e *RPCError) Error() string { return fmt.Sprintf("rpc error %d: %s", e.Code, e.Message) }

// InitInfo is what initConnection tells about the client.
type InitInfo struct {
	APIID          int32
	DeviceModel    string
	SystemVersion  string
	AppVersion     string
	SystemLangCode string
	LangPack       string
	LangCode       string
}

// Request is one API call, already unwrapped from invokeWithLayer/initConnection/invokeAfterMsg(s).
type Request struct {
	MsgID          int64
	Query          tl.Object
	Layer          int
	WithoutUpdates bool
	after          []chan struct{}
}

// Wait blocks until the messages named by invokeAfterMsg(s) have been answered (or ctx ends).
func (r *Request) Wait(ctx context.Context) error {
	for _, ch := range r.after {
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// reqInfo is what an in-flight request's result is written for: the layer in force when it was decoded and
// the query (its wire id picks the result's form, api.ProjectResult).
type reqInfo struct {
	layer int
	query tl.Object
}

// outMsg is a server message kept until the client acknowledges it.
type outMsg struct {
	msgID    int64
	seqNo    int32
	body     []byte
	reqMsgID int64 // for rpc_result: the request it answers
	sent     time.Time
}

// Session is one MTProto session: (auth key, session id).
type Session struct {
	m   *Manager
	key *Key
	id  int64

	mu         sync.Mutex
	conn       Conn
	announced  bool // new_session_created sent
	uniqueID   int64
	recent     recentIDs
	outContent int32 // content messages sent so far (server seq_no = 2*outContent [+1])
	unacked    []outMsg
	inflight   map[int64]chan struct{}
	reqs       map[int64]reqInfo // per in-flight request: how its result is to be written
	layer      int
	init       *InitInfo
	lastSeen   time.Time
	closed     atomic.Bool // set without s.mu so that one session can close another while holding its own lock
}

// ID returns the session id.
func (s *Session) ID() int64 { return s.id }

// Key returns the auth key state the session belongs to.
func (s *Session) Key() *Key { return s.key }

// Layer returns the layer the client announced with invokeWithLayer (0 if none yet).
func (s *Session) Layer() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.layer
}

// Init returns what initConnection recorded, or nil.
func (s *Session) Init() *InitInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.init
}

// batch collects the messages one incoming frame produces; they leave together (in a container if several).
type batch struct {
	msgs []outMsg
	acks []int64
}

func (s *Session) encode(o tl.Object) []byte {
	b, err := tl.Marshal(o)
	if err != nil {
		s.m.opts.Log.Error("encode server message", "type", tl.Name(o), "err", err)
		return nil
	}
	return b
}

// badMsg queues a bad_msg_notification for a client message and counts it.
func (s *Session) badMsg(b *batch, msgID int64, seqNo, code int32) {
	if code >= 0 && int(code) < len(s.m.metrics.BadMsg) {
		s.m.metrics.BadMsg[code].Add(1)
	}
	s.add(b, &mt.BadMsgNotification{BadMsgID: msgID, BadMsgSeqno: seqNo, ErrorCode: code}, true, false, 0)
}

// add queues a server message. Content messages get an odd seq_no and are kept until acknowledged.
func (s *Session) add(b *batch, o tl.Object, response, content bool, reqMsgID int64) {
	body := s.encode(o)
	if body == nil {
		return
	}
	s.addRaw(b, body, response, content, reqMsgID)
}

func (s *Session) addRaw(b *batch, body []byte, response, content bool, reqMsgID int64) {
	msg := outMsg{msgID: s.m.ids.Next(response), body: body, reqMsgID: reqMsgID, sent: s.m.opts.Now()}
	if content {
		msg.seqNo = 2*s.outContent + 1
		s.outContent++
		s.remember(msg)
	} else {
		msg.seqNo = 2 * s.outContent
	}
	b.msgs = append(b.msgs, msg)
}

func (s *Session) remember(msg outMsg) {
	s.unacked = append(s.unacked, msg)
	if len(s.unacked) > s.m.opts.MaxUnacked {
		// Drop the oldest: a client that never acknowledges must not grow the server's memory.
		n := copy(s.unacked, s.unacked[len(s.unacked)-s.m.opts.MaxUnacked:])
		clear(s.unacked[n:])
		s.unacked = s.unacked[:n]
	}
}

// flush encrypts the batch and sends it on c (nil: the session's current connection).
func (s *Session) flush(c Conn, b *batch) {
	if len(b.acks) > 0 {
		// A response in the same frame acknowledges its request: no separate ack for it.
		acks := b.acks[:0]
		for _, id := range b.acks {
			answered := false
			for _, msg := range b.msgs {
				answered = answered || msg.reqMsgID == id
			}
			if !answered {
				acks = append(acks, id)
			}
		}
		if len(acks) > 0 {
			s.add(b, &mt.MsgsAck{MsgIDs: acks}, false, false, 0)
		}
		b.acks = nil
	}
	if len(b.msgs) == 0 {
		return
	}
	if c == nil {
		c = s.conn
	}
	if c == nil {
		b.msgs = b.msgs[:0]
		return // content messages stay in unacked until a connection binds the session
	}
	// Split into frames of bounded size: a resend of many unacknowledged results must not become one
	// oversized frame.
	for len(b.msgs) > 0 {
		n, size := 0, 0
		for n < len(b.msgs) && n < maxContainer && (n == 0 || size+len(b.msgs[n].body)+16 <= maxFrameBody) {
			size += len(b.msgs[n].body) + 16
			n++
		}
		s.send(c, b.msgs[:n])
		b.msgs = b.msgs[n:]
	}
}

const (
	maxContainer = 1000      // messages per msg_container
	maxFrameBody = 512 << 10 // bytes of messages packed into one frame
)

// send encrypts msgs as one frame (a container if several) and sends it on c.
func (s *Session) send(c Conn, msgs []outMsg) {
	var m crypto.Message
	if len(msgs) == 1 {
		m = crypto.Message{MsgID: msgs[0].msgID, SeqNo: msgs[0].seqNo, Body: msgs[0].body}
	} else {
		e := tl.NewEncoder(nil)
		e.PutID(mt.MsgContainerTypeID)
		e.PutInt(int32(len(msgs)))
		for _, msg := range msgs {
			e.PutLong(msg.msgID)
			e.PutInt(msg.seqNo)
			e.PutInt(int32(len(msg.body)))
			e.PutRaw(msg.body)
		}
		m = crypto.Message{MsgID: s.m.ids.Next(false), SeqNo: 2 * s.outContent, Body: e.Bytes()}
	}
	m.Salt = s.m.opts.Salts.Current(s.key.Auth.ID, s.m.opts.Now())
	m.SessionID = s.id
	frame, err := crypto.EncryptMessage(nil, &s.key.Auth, crypto.ServerToClient, m, s.m.opts.Rand)
	if err != nil {
		s.m.opts.Log.Error("encrypt server message", "err", err)
		return
	}
	if err := c.Send(frame); err != nil {
		s.m.opts.Log.Debug("send to client failed", "conn", c.ID(), "err", err)
	}
}

// handle processes one decrypted message from c. Called with s.mu not held.
func (s *Session) handle(c Conn, m crypto.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return
	}
	now := s.m.opts.Now()
	s.lastSeen = now
	var b batch

	if code := checkTime(m.MsgID, now); code != 0 {
		s.badMsg(&b, m.MsgID, m.SeqNo, code)
		s.flush(c, &b)
		return
	}
	if !s.m.opts.Salts.Valid(s.key.Auth.ID, m.Salt, now) {
		s.m.metrics.BadSalt.Add(1)
		s.add(&b, &mt.BadServerSalt{BadMsgID: m.MsgID, BadMsgSeqno: m.SeqNo, ErrorCode: CodeBadServerSalt,
			NewServerSalt: s.m.opts.Salts.Current(s.key.Auth.ID, now)}, true, false, 0)
		s.flush(c, &b)
		return
	}
	// Only a fresh, valid message moves the session to c: a replayed frame on another connection must not
	// divert the session's replies and pushes.
	moved := false
	if s.conn == nil || s.conn.ID() != c.ID() {
		if s.recent.contains(m.MsgID) || (s.recent.full() && m.MsgID <= s.recent.min()) {
			s.message(&b, m.MsgID, m.SeqNo, m.Body, false, now)
			s.flush(c, &b)
			return
		}
		moved = true
		s.conn = c
	}
	if !s.announced {
		s.announced = true
		s.add(&b, &mt.NewSessionCreated{FirstMsgID: m.MsgID, UniqueID: s.uniqueID,
			ServerSalt: s.m.opts.Salts.Current(s.key.Auth.ID, now)}, false, true, 0)
	} else if moved {
		s.resendUnacked(&b, now)
	}
	s.message(&b, m.MsgID, m.SeqNo, m.Body, false, now)
	s.flush(c, &b)
}

// resendUnacked queues every unacknowledged content message again, keeping its msg_id while the client would
// still accept it and renumbering it otherwise.
func (s *Session) resendUnacked(b *batch, now time.Time) {
	for i := range s.unacked {
		msg := &s.unacked[i]
		if now.Sub(msg.sent) > maxPast-time.Minute {
			msg.msgID = s.m.ids.Next(msg.reqMsgID != 0)
			msg.sent = now
		}
		b.msgs = append(b.msgs, *msg)
	}
}

// isContent reports whether a client message with this constructor needs an acknowledgement.
func isContent(id uint32) bool {
	switch id {
	case mt.MsgsAckTypeID, mt.MsgContainerTypeID, mt.MsgsStateInfoTypeID, mt.MsgsAllInfoTypeID,
		mt.MsgDetailedInfoTypeID, mt.MsgNewDetailedInfoTypeID, mt.HTTPWaitTypeID:
		return false
	}
	return true
}

// message checks one (possibly inner) message and processes its body.
func (s *Session) message(b *batch, msgID int64, seqNo int32, body []byte, inner bool, now time.Time) {
	if inner {
		if code := checkTime(msgID, now); code != 0 {
			s.badMsg(b, msgID, seqNo, code)
			return
		}
	}
	if len(body) < 4 {
		s.badMsg(b, msgID, seqNo, CodeBadContainer)
		return
	}
	id := binary.LittleEndian.Uint32(body)
	if id == tl.GzipPackedID {
		// The parity check needs the real constructor: peek into the packed data.
		if obj, err := tl.DecodeObject(body, s.m.reg); err == nil {
			id = obj.TypeID()
		}
	}
	content := isContent(id)
	odd := seqNo&1 == 1
	// gotd v0.160 sends ping and get_future_salts with even seq_nos; Telegram tolerates that, so the
	// "odd expected" check (35) is opt-in. An odd seq_no on a non-content message is refused (34), except on
	// msgs_ack: mtcute 0.30.3 numbers every message it writes as content-related, Telegram accepts its acks,
	// and refusing them made mtcute reset its session in a loop.
	if !content && odd && id != mt.MsgsAckTypeID {
		s.badMsg(b, msgID, seqNo, CodeSeqNoEvenExpected)
		return
	}
	if content && !odd && s.m.opts.StrictSeqNo {
		s.badMsg(b, msgID, seqNo, CodeSeqNoOddExpected)
		return
	}
	if s.recent.contains(msgID) {
		s.m.metrics.Duplicates.Add(1)
		// A duplicate: never process twice. Acknowledge again and resend the answer if it is still unacked.
		if content {
			b.acks = append(b.acks, msgID)
		}
		for _, u := range s.unacked {
			if u.reqMsgID == msgID {
				b.msgs = append(b.msgs, u)
			}
		}
		return
	}
	if s.recent.full() && msgID <= s.recent.min() {
		s.badMsg(b, msgID, seqNo, CodeMsgIDTooLow)
		return
	}
	s.recent.add(msgID)
	if id == mt.MsgContainerTypeID && binary.LittleEndian.Uint32(body) == mt.MsgContainerTypeID {
		if inner {
			s.badMsg(b, msgID, seqNo, CodeBadContainer)
			return
		}
		s.container(b, msgID, seqNo, body[4:], now)
		return
	}
	obj, err := tl.DecodeObject(body, s.m.reg)
	if err != nil {
		s.undecodable(b, msgID, content, err)
		return
	}
	if content {
		b.acks = append(b.acks, msgID)
	}
	s.object(b, msgID, obj, now)
}

// container walks msg_container's raw messages so that one undecodable message does not hide the others.
func (s *Session) container(b *batch, msgID int64, seqNo int32, raw []byte, now time.Time) {
	bad := func() {
		s.badMsg(b, msgID, seqNo, CodeBadContainer)
	}
	if len(raw) < 4 {
		bad()
		return
	}
	n := int(binary.LittleEndian.Uint32(raw))
	raw = raw[4:]
	if n < 0 || n > 1024 || n*16 > len(raw) {
		bad()
		return
	}
	for range n {
		if len(raw) < 16 {
			bad()
			return
		}
		innerID := int64(binary.LittleEndian.Uint64(raw))
		innerSeq := int32(binary.LittleEndian.Uint32(raw[8:]))
		size := binary.LittleEndian.Uint32(raw[12:])
		raw = raw[16:]
		if uint64(size) > uint64(len(raw)) || size%4 != 0 {
			bad()
			return
		}
		if innerID == msgID {
			// An inner message may not reuse the container's own msg_id.
			s.badMsg(b, msgID, seqNo, CodeContainerIDReused)
			return
		}
		s.message(b, innerID, innerSeq, raw[:size], true, now)
		raw = raw[size:]
	}
}

// undecodable answers a request whose body could not be decoded: never with silence.
func (s *Session) undecodable(b *batch, msgID int64, content bool, err error) {
	if !content {
		return
	}
	s.m.metrics.Undecodable.Add(1)
	b.acks = append(b.acks, msgID)
	msg := "INPUT_CONSTRUCTOR_INVALID"
	var unk *tl.UnknownConstructorError
	if errors.As(err, &unk) && unk.Type == "" {
		msg = "INPUT_METHOD_INVALID"
	}
	s.m.opts.Log.Debug("undecodable request", "msg_id", msgID, "err", err)
	s.addResult(b, msgID, &mt.RPCError{ErrorCode: 400, ErrorMessage: msg})
}

// addResult queues rpc_result for a request, gzip_packed when the result is large. The result takes the form
// of the method version called (api.ProjectResult) and is written for the layer in force when the request was
// decoded (api.EncodeLayer); the canonical layer keeps the canonical encoding byte for byte.
func (s *Session) addResult(b *batch, reqMsgID int64, result tl.Object) {
	info, ok := s.reqs[reqMsgID]
	if !ok {
		info.layer = s.currentLayer()
	}
	delete(s.reqs, reqMsgID)
	n := info.layer
	result = api.ProjectResult(info.query, result)
	var body []byte
	if l := api.LayerFor(n); l == 0 {
		body = s.canonicalResult(reqMsgID, result)
	} else {
		body = s.layerResult(reqMsgID, result, l)
	}
	if ch, ok := s.inflight[reqMsgID]; ok {
		close(ch)
		delete(s.inflight, reqMsgID)
	}
	s.addRaw(b, body, true, true, reqMsgID)
}

func (s *Session) canonicalResult(reqMsgID int64, result tl.Object) []byte {
	rr := &mt.RPCResult{ReqMsgID: reqMsgID, Result: result}
	body := s.encode(rr)
	if body == nil {
		body = s.encode(&mt.RPCResult{ReqMsgID: reqMsgID, Result: &mt.RPCError{ErrorCode: 500, ErrorMessage: "INTERNAL"}})
	} else if len(body) > s.m.opts.GzipMin {
		if gz, err := tl.Gzip(result); err == nil && len(gz.Data)+32 < len(body) {
			body = s.encode(&mt.RPCResult{ReqMsgID: reqMsgID, Result: gz})
		}
	}
	return body
}

// rpcResultHeader is rpc_result's id and req_msg_id: the result follows.
const rpcResultHeader = 12

// layerResult writes rpc_result with the result projected for an older layer. A result that cannot be
// projected becomes rpc_error 500 RESULT_NOT_IN_LAYER_<n>, and the log names the constructor.
func (s *Session) layerResult(reqMsgID int64, result tl.Object, l api.Layer) []byte {
	e := tl.NewEncoder(nil)
	e.PutID(mt.RPCResultTypeID)
	e.PutLong(reqMsgID)
	if err := api.EncodeLayer(e, result, l); err != nil {
		s.m.metrics.Unprojectable.Add(1)
		s.m.opts.Log.Warn("result cannot be encoded for the client's layer", "type", tl.Name(result),
			"layer", api.LayerNumbers[l], "err", err)
		return s.canonicalResult(reqMsgID, &mt.RPCError{ErrorCode: 500,
			ErrorMessage: fmt.Sprintf("RESULT_NOT_IN_LAYER_%d", api.LayerNumbers[l])})
	}
	body := e.Bytes()
	if len(body) > s.m.opts.GzipMin {
		if gz, err := tl.GzipRaw(body[rpcResultHeader:]); err == nil && len(gz.Data)+32 < len(body) {
			body = s.encode(&mt.RPCResult{ReqMsgID: reqMsgID, Result: gz})
		}
	}
	return body
}

// currentLayer is the layer announced on this session, else the last one announced on its key (0: none).
func (s *Session) currentLayer() int {
	if s.layer != 0 {
		return s.layer
	}
	return s.key.getLayer()
}

func (s *Session) object(b *batch, msgID int64, obj tl.Object, now time.Time) {
	switch v := obj.(type) {
	case *mt.MsgsAck:
		s.acked(v.MsgIDs)
	case *mt.PingRequest:
		s.add(b, &mt.Pong{MsgID: msgID, PingID: v.PingID}, true, true, msgID)
	case *mt.PingDelayDisconnectRequest:
		if s.conn != nil {
			s.conn.DisconnectAfter(time.Duration(v.DisconnectDelay) * time.Second)
		}
		s.add(b, &mt.Pong{MsgID: msgID, PingID: v.PingID}, true, true, msgID)
	case *mt.GetFutureSaltsRequest:
		fs := s.m.opts.Salts.Future(s.key.Auth.ID, now, int(v.Num))
		out := &mt.FutureSalts{ReqMsgID: msgID, Now: int32(now.Unix()), Salts: make([]*mt.FutureSalt, len(fs))}
		for i, f := range fs {
			out.Salts[i] = &mt.FutureSalt{ValidSince: f.ValidSince, ValidUntil: f.ValidUntil, Salt: f.Salt}
		}
		s.add(b, out, true, true, msgID)
	case *mt.MsgsStateReq:
		s.add(b, &mt.MsgsStateInfo{ReqMsgID: msgID, Info: s.states(v.MsgIDs, now)}, true, true, msgID)
	case *mt.MsgResendReq:
		for _, id := range v.MsgIDs {
			for _, u := range s.unacked {
				if u.msgID == id {
					b.msgs = append(b.msgs, u)
				}
			}
		}
	case *mt.DestroySessionRequest:
		var res tl.Object = &mt.DestroySessionNone{SessionID: v.SessionID}
		if v.SessionID != s.id && s.m.destroy(s.key.Auth.ID, v.SessionID) {
			res = &mt.DestroySessionOk{SessionID: v.SessionID}
		}
		s.add(b, res, true, true, msgID)
	case *mt.RPCDropAnswerRequest:
		s.addResult(b, msgID, &mt.RPCAnswerUnknown{})
	case *mt.MsgsStateInfo, *mt.MsgsAllInfo, *mt.MsgDetailedInfo, *mt.MsgNewDetailedInfo, *mt.HTTPWait:
		// Informational: nothing to do.
	case *mt.MsgContainer:
		// Only reachable through gzip_packed; its messages are already decoded.
		for i := range v.Messages {
			in := &v.Messages[i]
			if in.Body == nil {
				continue
			}
			if isContent(in.Body.TypeID()) {
				b.acks = append(b.acks, in.MsgID)
			}
			s.recent.add(in.MsgID)
			s.object(b, in.MsgID, in.Body, now)
		}
	default:
		s.call(b, msgID, obj)
	}
}

// states answers msgs_state_req: one status byte per msg_id (spec: 1 unknown/too old, 2 not received,
// 3 too new, 4 received).
func (s *Session) states(ids []int64, now time.Time) []byte {
	out := make([]byte, len(ids))
	for i, id := range ids {
		switch {
		case s.recent.contains(id):
			out[i] = 4
		case checkTime(id, now) == CodeMsgIDTooLow || (s.recent.full() && id <= s.recent.min()):
			out[i] = 1
		case checkTime(id, now) == CodeMsgIDTooHigh:
			out[i] = 3
		default:
			out[i] = 2
		}
	}
	return out
}

func (s *Session) acked(ids []int64) {
	if len(s.unacked) == 0 {
		return
	}
	keep := s.unacked[:0]
	for _, u := range s.unacked {
		found := false
		for _, id := range ids {
			if id == u.msgID {
				found = true
				break
			}
		}
		if !found {
			keep = append(keep, u)
		}
	}
	clear(s.unacked[len(keep):])
	s.unacked = keep
	if len(s.unacked) == 0 {
		s.unacked = nil
	}
}

// call unwraps the invoke* wrappers, records what they announce and dispatches the inner query.
func (s *Session) call(b *batch, msgID int64, obj tl.Object) {
	req := Request{MsgID: msgID}
	for depth := 0; depth < 8; depth++ {
		switch v := obj.(type) {
		case *api.InvokeWithLayerRequest:
			s.layer = int(v.Layer)
			s.key.setLayer(s.layer)
			obj = v.Query
			continue
		case *api.InitConnectionRequest:
			// Recorded before the inner query runs: mtcute treats any answer as "initialised".
			s.init = &InitInfo{APIID: v.APIID, DeviceModel: v.DeviceModel, SystemVersion: v.SystemVersion,
				AppVersion: v.AppVersion, SystemLangCode: v.SystemLangCode, LangPack: v.LangPack, LangCode: v.LangCode}
			s.key.setInit(s.init)
			obj = v.Query
			continue
		case *api.InvokeAfterMsgRequest:
			req.after = s.waitFor(req.after, v.MsgID)
			obj = v.Query
			continue
		case *api.InvokeAfterMsgsRequest:
			for _, id := range v.MsgIDs {
				req.after = s.waitFor(req.after, id)
			}
			obj = v.Query
			continue
		case *api.InvokeWithoutUpdatesRequest:
			req.WithoutUpdates = true
			obj = v.Query
			continue
		}
		break
	}
	if obj == nil {
		s.addResult(b, msgID, &mt.RPCError{ErrorCode: 400, ErrorMessage: "INPUT_REQUEST_INVALID"})
		return
	}
	req.Query = obj
	req.Layer = s.layer
	if req.Layer == 0 {
		req.Layer = s.key.getLayer()
	}
	if s.m.opts.RequireInit && req.Layer == 0 {
		s.addResult(b, msgID, &mt.RPCError{ErrorCode: 400, ErrorMessage: "CONNECTION_NOT_INITED"})
		return
	}
	if s.inflight == nil {
		s.inflight = make(map[int64]chan struct{})
	}
	s.inflight[msgID] = make(chan struct{})
	if s.reqs == nil {
		s.reqs = make(map[int64]reqInfo)
	}
	s.reqs[msgID] = reqInfo{layer: req.Layer, query: obj}
	s.m.metrics.Calls.Add(1)
	s.m.dispatch.Dispatch(s, req)
}

func (s *Session) waitFor(after []chan struct{}, id int64) []chan struct{} {
	if ch, ok := s.inflight[id]; ok {
		return append(after, ch)
	}
	return after
}

// Reply sends the answer to an API call: result, or err as rpc_error (an *RPCError keeps its code and
// message; any other error becomes 500 INTERNAL).
func (s *Session) Reply(msgID int64, result tl.Object, err error) {
	var ans tl.Object = result
	if err != nil || result == nil {
		var re *RPCError
		if errors.As(err, &re) {
			ans = &mt.RPCError{ErrorCode: re.Code, ErrorMessage: re.Message}
		} else {
			if err != nil {
				s.m.opts.Log.Warn("backend call failed", "err", err)
			}
			ans = &mt.RPCError{ErrorCode: 500, ErrorMessage: "INTERNAL"}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return
	}
	var b batch
	s.addResult(&b, msgID, ans)
	s.flush(nil, &b)
}

// Push sends a server-initiated content message (updates) to the session's current connection, or keeps it
// for the next one. It is written for the session's layer; updates that cannot be projected for it are
// dropped (logged): the client catches up through updates.getDifference.
func (s *Session) Push(obj tl.Object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return
	}
	var b batch
	if l := api.LayerFor(s.currentLayer()); l == 0 {
		s.add(&b, obj, false, true, 0)
	} else {
		e := tl.NewEncoder(nil)
		if err := api.EncodeLayer(e, obj, l); err != nil {
			s.m.metrics.Unprojectable.Add(1)
			s.m.opts.Log.Info("push dropped: cannot be encoded for the client's layer", "type", tl.Name(obj),
				"layer", api.LayerNumbers[l], "err", err)
			return
		}
		s.addRaw(&b, e.Bytes(), false, true, 0)
	}
	s.flush(nil, &b)
}

// detach forgets c if it is the session's current connection.
func (s *Session) detach(c Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil && s.conn.ID() == c.ID() {
		s.conn = nil
		s.lastSeen = s.m.opts.Now()
		return true
	}
	return false
}

func (s *Session) close() {
	s.closed.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, ch := range s.inflight {
		close(ch)
		delete(s.inflight, id)
	}
	clear(s.reqs)
	s.unacked = nil
	s.conn = nil
}

// idleSince reports whether the session has no connection and has been idle since before t.
func (s *Session) idleSince(t time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn == nil && s.lastSeen.Before(t)
}
