// Package handshake is the server side of the MTProto auth key exchange (req_pq_multi → resPQ →
// req_DH_params → server_DH_params_ok → set_client_DH_params → dh_gen_ok/retry/fail) on unencrypted messages,
// and the AuthKeyStore seam through which new keys are persisted before the client is told they exist.
//
// An Exchange holds the state of one connection's exchange; a Server holds what is shared (RSA key, store,
// clock, randomness). Exchange.Handle is CPU-heavy (RSA decryption and two 2048-bit modular exponentiations):
// callers run it off the network event loop. The package never starts goroutines, never reads the wall clock
// or a global random source directly (both come from Options), and answers hostile input with an error and
// bounded memory, never a panic.
package handshake
