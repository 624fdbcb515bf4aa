// Package pki owns the cluster's certificate authority, node certificates and one-time join tokens: everything
// that makes inter-node traffic mutually authenticated TLS.
//
// It must never: accept a peer certificate not signed by the cluster CA; verify a join token without the
// cluster secret; store a private key with permissions wider than 0600 (that is the caller's job with
// WriteFile0600, used by node/).
package pki
