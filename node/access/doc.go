// Package access makes and checks access hashes: the proof, carried in inputUser / inputPeerUser, that the
// server showed a user to the caller. A hash is an HMAC of (viewer, target) under a key derived from the
// cluster secret, so it is stateless, different for every viewer, and not guessable: ids alone reach nobody
// (USER_ID_INVALID / PEER_ID_INVALID), and ids cannot be enumerated.
//
// It must never accept a hash it did not compute for the same viewer, and never store anything.
package access
