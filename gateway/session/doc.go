// Package session implements MTProto 2.0 sessions on the server: client msg_id and seq_no checks, salts,
// acknowledgements, containers and gzip_packed in both directions, the service messages (ping,
// ping_delay_disconnect, get_future_salts, msgs_state_req, msg_resend_req, destroy_session, rpc_drop_answer),
// the invokeWithLayer/initConnection/invokeAfterMsg wrappers, rpc_result/rpc_error, server msg_ids and seq_nos,
// and resending unacknowledged server messages when a session moves to a new connection.
//
// It owns per-session message state only, which is not replicated (a session lives on the gateway its client
// is connected to). It must never block on the backend: API requests leave through Dispatcher.Dispatch and
// their answers come back through Session.Reply. Results are encoded for the layer in force when their request
// was decoded, pushes for the session's current layer (tl/api EncodeLayer; unannounced = 227, whose bytes are
// the canonical ones): an unprojectable result becomes rpc_error 500 RESULT_NOT_IN_LAYER_<n>, an
// unprojectable push is dropped (logged, counted) and the client recovers through getDifference. It starts no goroutines and reads time and randomness only
// through Options.
package session
