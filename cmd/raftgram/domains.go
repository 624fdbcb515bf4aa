package main

import (
	"github.com/raftgram/raftgram/node/handler/auth"
	"github.com/raftgram/raftgram/node/handler/help"
	"github.com/raftgram/raftgram/node/handler/messages"
	"github.com/raftgram/raftgram/node/handler/upload"
	"github.com/raftgram/raftgram/node/messenger"
)

// domains are the API domains every node runs (node/handler/<domain>).
var domains = []messenger.Builder{
	auth.New, // accounts: auth.*, users.*, contacts.*, profile, Directory, Sessions
	// messages.*, updates.*, Pusher, ServiceMessages, outbox relay
	messages.New,
	upload.New, // upload.saveFilePart / saveBigFilePart into the chunk store (files/)
	help.New,   // keep last: it serves start-up defaults only for methods no domain before it registered
}
