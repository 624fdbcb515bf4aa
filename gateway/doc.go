// Package gateway is the MTProto 2.0 front of a raftgram node: it runs the network edge (gateway/edge),
// creates auth keys (gateway/handshake), runs sessions (gateway/session) and turns client messages into
// typed calls on a Backend, and pushes updates back to the live sessions of a user.
//
// # Interface towards the rest of the server
//
//	srv, err := gateway.New(gateway.Options{ServerKey: key, SaltSecret: secret, DC: 1}, backend, store, log)
//	srv.Start() / srv.Run(ctx); defer srv.Close(ctx)
//
//	type Backend interface {
//	    // Invoke runs one API method, already unwrapped from invokeWithLayer/initConnection/invokeAfterMsg,
//	    // and returns its result or an error: *RPCError keeps its code and message, ErrNotImplemented
//	    // becomes 400 METHOD_NOT_IMPLEMENTED, anything else 500 INTERNAL.
//	    Invoke(ctx context.Context, call Call) (tl.Object, error)
//	}
//	srv.BindUser(authKeyID, userID)   // after sign-in: the key's sessions now belong to the user
//	srv.Push(userID, updates)         // delivered to every live session of the user's keys
//
// AuthKeyStore (= handshake.AuthKeyStore) persists keys; a key is stored before dh_gen_ok is sent.
// NewMemoryStore is an in-memory one for tests and development; the cluster backs it with Raft.
//
// # What it must never do
//
// Block an edge event loop (frames go to a bounded worker pool, one connection's frames in order), run a
// goroutine per idle connection, answer a request with silence, or know that Raft exists. Constructors start
// nothing; Start/Run start the edge and the janitor and Close stops them.
package gateway
