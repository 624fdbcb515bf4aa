// Package upload is the API domain of files: upload.saveFilePart and upload.saveBigFilePart store each part in
// the cluster's chunk store (files.Store), answering true only once the part is durable on the nodes
// (files/DESIGN.md invariant 1); upload.getFile serves the bytes of a document or photo. It provides
// handler.Media: messages.sendMedia and messages.uploadMedia make a document of an uploaded document, and a photo
// of an uploaded photo (JPEG, PNG or GIF; one size, the image as uploaded: no thumbnails or re-encoding yet).
// It serves this node's share of the store to the other nodes over internal RPC (methods 80-82) and keeps that
// share in <data-dir>/chunks. With the node's debug API on, the admin address serves /debug/files (one part's
// bytes, read through the store) for tests and operators.
//
// Documents and photos are not stored: the file_reference carries where the bytes are (uploader, file id, part
// count, part size, size) sealed with a MAC under the cluster secret, and the access hash is a MAC of the id, so
// any node serves upload.getFile from the location alone (document.go).
//
// It must never: answer true for a part before files.Store.Put returned; let one user's parts be named by
// another (the owner of every key is the caller's user id; a document names its parts only through a sealed
// reference); accept a part over files.MaxPart or outside Telegram's part limits; serve /debug/files without
// the node's debug API.
package upload
