// Package upload is the API domain of files: upload.saveFilePart and upload.saveBigFilePart store each part in
// the cluster's chunk store (files.Store), answering true only once the part is durable on the nodes
// (files/DESIGN.md invariant 1); messages.uploadMedia turns an uploaded file into a document; upload.getFile
// serves a document's bytes. It serves this node's share of the store to the other nodes over internal RPC
// (methods 80-82) and keeps that share in <data-dir>/chunks. With the node's debug API on, the admin address
// serves /debug/files (one part's bytes, read through the store) for tests and operators.
//
// Documents are not stored: a document's file_reference carries where its bytes are (uploader, file id, part
// count, part size, size) sealed with a MAC under the cluster secret, and its access hash is a MAC of its id, so
// any node serves upload.getFile for it from the location alone (document.go).
//
// It must never: answer true for a part before files.Store.Put returned; let one user's parts be named by
// another (the owner of every key is the caller's user id; a document names its parts only through a sealed
// reference); accept a part over files.MaxPart or outside Telegram's part limits; serve /debug/files without
// the node's debug API.
package upload
