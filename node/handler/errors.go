package handler

import (
	"fmt"

	"github.com/raftgram/raftgram/gateway"
)

// Err is an rpc_error answer with a Telegram error code and message.
func Err(code int32, msg string) error { return &gateway.RPCError{Code: code, Message: msg} }

// BadRequest is a 400 answer (e.g. PEER_ID_INVALID).
func BadRequest(msg string) error { return Err(400, msg) }

// FloodWait is 420 FLOOD_WAIT_<seconds>.
func FloodWait(seconds int) error { return Err(420, fmt.Sprintf("FLOOD_WAIT_%d", seconds)) }

// Common answers.
var (
	// ErrUnregistered: the key is not signed in (or its authorization was revoked).
	ErrUnregistered  = Err(401, "AUTH_KEY_UNREGISTERED")
	ErrPeerInvalid   = BadRequest("PEER_ID_INVALID")
	ErrUserInvalid   = BadRequest("USER_ID_INVALID")
	ErrMessageEmpty  = BadRequest("MESSAGE_EMPTY")
	ErrLimitInvalid  = BadRequest("LIMIT_INVALID")
	ErrInternal      = Err(500, "INTERNAL")
	ErrMsgIDInvalid  = BadRequest("MESSAGE_ID_INVALID")
	ErrInputInvalid  = BadRequest("INPUT_REQUEST_INVALID")
	ErrUsernameTaken = BadRequest("USERNAME_OCCUPIED")
)
