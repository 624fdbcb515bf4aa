// Package clients runs unmodified Telegram client libraries against a raftgram cluster: "real clients are the
// judge". The package holds only tests; the clients run as subprocesses:
//
//   - js/mtcute.mjs: mtcute (@mtcute/node 0.30.3, layer 227), MemoryStorage, the server key added with
//     addPublicKey; TCP intermediate, or obfuscated2 over padded intermediate;
//   - js/gramjs.mjs: GramJS (npm telegram 2.26.22, layer 198), its connection class pinned to our port and the
//     server key put into its key table; TCP full, or obfuscated2 over abridged;
//   - gotd/: one Go program built against gotd/td v0.160.0 (go.mod, layer 227, the control), v0.142.0
//     (go142.mod, layer 223) and v0.93.0 (go93.mod, layer 170) with `go build -modfile`; gotd/ is its own
//     module, so the main module never depends on an old gotd.
//
// The npm packages are installed by the test itself (`npm ci --ignore-scripts` into js/node_modules, ignored by
// git) when missing; without node or npm those scenarios skip. The gotd binaries are built by the test.
//
// # The scenario
//
// One 3-node cluster (node/testcluster, dev login code) and one peer user signed up by gotd v0.160 through
// node/e2e/tgclient. Each client, connected to its own node, prints one JSON line per step, which the test
// checks:
//
//	connect     the key exchange with the cluster's RSA key and the first call
//	getConfig   this_dc = 1 and the node's address in dc_options
//	signUp      auth.sendCode, auth.signIn -> authorizationSignUpRequired, auth.signUp: a new user, self
//	getSelf     users.getUsers([inputUserSelf]) is the same user
//	resolve     contacts.importContacts of the peer's phone gives the peer's id and an access hash
//	send x3     messages.sendMessage to the peer: increasing ids, the texts sent
//	ready       the test has the peer send one message to the client ...
//	push        ... which the library's update handler must receive (text, sender)
//	getDialogs  a dialog with the peer whose top message is the pushed one
//	getHistory  exactly the 3 sent (out) and the pushed (in) message, in id order
//	file        (JS clients) 300 KiB uploaded as a document and sent to Saved Messages (upload.saveFilePart,
//	            messages.sendMedia), downloaded back (upload.getFile): the same SHA-256, the caption kept
//	photo       (JS clients) a 96x64 JPEG sent as a photo to Saved Messages: its size reports 96x64, the
//	            download is the same JPEG
//	done
//
// and the peer's own getHistory must hold the 3 texts, in order, as incoming messages.
//
// The key exchange of both JS libraries fails about once in 256 runs whatever the server: they turn g^ab into
// the auth key with its leading zero bytes dropped (GramJS getByteArray, mtcute bigint.toBytes without a
// length), where the spec, TDLib, gotd and our gateway keep all 256 bytes, so dh_gen_ok's new_nonce_hash1 does
// not match theirs. Each library recovers the way it does against Telegram: mtcute reconnects by itself, GramJS
// retries connect() connectionRetries times (5, its default, which gramjs.mjs keeps).
//
// Every client passes. make test runs gotd v0.160, mtcute (plain and obfuscated) and GramJS (plain and
// obfuscated); the two old gotd versions (v0.142: layer 223, v0.93: layer 170) are opt-in (client.optIn: their
// first build compiles another gotd tree, minutes of CPU) and run with RAFTGRAM_CLIENTS=name,...|all
// (make test-clients) or RAFTGRAM_OLD_LAYERS=1. README.md has the table and timings.
//
// It must never reach into a server process (sockets and files only), bind anything but 127.0.0.1, talk to
// any network but the npm registry and the Go module proxy (only to install missing modules), or assert speed.
package clients
