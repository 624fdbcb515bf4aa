// Package edge is the gateway's network edge: a gnet v2 server (event loops, no goroutine per connection)
// that accepts TCP connections, detects the MTProto transport of each from its first bytes (including
// obfuscated2 and WebSocket upgrades at /apiws), decodes frames and hands them to a Handler, and enforces the
// connection limits in Options, counting every violation in Metrics.
//
// The seam towards the session layer is the Handler and Conn pair:
//
//   - Handler.OnOpen is called once the transport is known (Conn.Transport is valid), before the first frame;
//     connections that never get that far (garbage, over the per-IP cap) never reach the Handler.
//   - Handler.OnFrame is called on the event loop with a frame valid only during the call; it must not block.
//     quickAck reports that the client asked for a quick ack (answer with Conn.SendQuickAck).
//   - Handler.OnClose is called exactly once for every connection that got OnOpen, on the event loop, with the
//     reason (a limit, a protocol error, Conn.Close's reason, or the socket error).
//   - Conn methods are safe from any goroutine. Send frames and encrypts in call order and queues the bytes to
//     the event loop; the frame is the caller's again when Send returns.
//   - Conn.SetAuthenticated lifts the unauthenticated-time limit; the idle timeout always applies.
//   - Every Conn also implements DCConn (the DC id of an obfuscated2 init), outside the Conn interface.
//
// The edge owns connections and framing only. It never looks inside a frame, never blocks an event loop,
// never lets a panic escape an event (it recovers, counts it and closes that connection), and never keeps a
// read buffer for an idle connection.
package edge
