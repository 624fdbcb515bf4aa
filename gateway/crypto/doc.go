// Package crypto holds the MTProto 2.0 cryptography the gateway needs on the server side: AES-256-IGE, the
// msg_key key derivation and the encrypted-message envelope, auth key ids, the server RSA key (generation,
// PKCS#1 PEM, fingerprint, RSA_PAD and legacy decryption), the Diffie-Hellman group and its range checks, the
// temporary AES key of the key exchange, quick-ack tokens and stateless server salts.
//
// It owns no state beyond what callers pass in and must never do I/O, start goroutines, read the clock or use a
// global random source: time and randomness are parameters. Every function that takes bytes from the network
// returns an error instead of panicking, whatever the input.
package crypto
