// Package gatehost runs the MTProto gateway inside a cluster node: Host implements node.Gateway, and on Start
// reads the node's credentials (the cluster's RSA key, the cluster secret), backs the gateway's AuthKeyStore
// with Raft (node/authkeys over Node.Propose and Node.Read) and starts gateway.Server on the client address
// (every TCP transport and WebSocket at /apiws on the same port). Close stops it.
//
// Salts derive from HMAC-SHA256(cluster secret, "raftgram mtproto salts v1"), so every node computes the
// same salts while the join-token secret itself never reaches the gateway.
//
// Until the messenger lands, NotImplementedBackend answers every API method with 400 METHOD_NOT_IMPLEMENTED
// and logs each method name once; DevLoginCode is the sign-in code dev mode will accept.
//
// It must never: start anything from New (Start does), register the auth-key appliers only on gateway nodes
// (every node applies them: authkeys.Appliers goes into node.Config.Appliers of each member), or hold keys
// anywhere but the gateway's own cache and the cluster.
package gatehost
