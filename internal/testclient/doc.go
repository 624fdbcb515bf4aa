// Package testclient is the project's own small MTProto client, for the gateway's tests and the lean client of
// cmd/benchmsg: the client side of the key exchange (which trusts the standard DH prime instead of re-checking it
// every time, unlike gotd), an intermediate-transport TCP connection, and an encrypted session that can also send
// deliberately broken frames. It is test support: it panics on nothing, but it checks only what tests need.
package testclient
