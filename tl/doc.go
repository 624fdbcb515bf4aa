// Package tl is raftgram's TL (Type Language) binary codec: the runtime that the generated packages
// tl/mt (MTProto service layer, mtproto.tl) and tl/api (Telegram API, canonical layer 227) build on.
//
// It owns the wire rules of TL: ints, longs, doubles, int128/int256, bytes/string with their length and
// padding rules, Bool, boxed and bare vectors, flags words, boxed objects, gzip_packed, and the Object fields
// of wrappers such as invokeWithLayer/initConnection. It must never hold schema knowledge (that is generated
// into tl/mt and tl/api by tl/cmd/tlgen), never panic on input, and never allocate more than the remaining
// input justifies.
//
// # API (stable; other packages build on it)
//
// Encoding:
//
//	var e tl.Encoder               // or tl.NewEncoder(buf) to reuse a buffer; e.Reset() between messages
//	e.PutObject(obj)               // boxed: constructor id + fields
//	e.PutInt / PutLong / PutDouble / PutInt128 / PutInt256 / PutBytes / PutString / PutBool / PutID /
//	  PutUint32 / PutVectorHeader / PutRaw / PutBare(obj)
//	if err := e.Err(); err != nil {...}   // errors are sticky (nil required field, oversized bytes)
//	b := e.Bytes()
//	b, err := tl.Marshal(obj)      // one boxed object into a new slice
//
// Decoding (all reads are bounds-checked; errors are sticky, check d.Err() or d.End()):
//
//	reg := tl.NewRegistry(mt.New, api.New).WithLegacy(api.IsLegacy)  // build once, share
//	obj, err := tl.DecodeObject(b, reg)   // one boxed object of any known type, no trailing bytes allowed
//	d := tl.NewDecoder(b, reg)
//	id := d.PeekID(); obj := d.Object()   // any boxed object (gzip_packed unpacked in place)
//	d.Int() / Long() / Double() / Int128() / Int256() / Bytes() / BytesRef() / String() / Bool() / ID()
//	d.VectorLen(minElemSize) / BareVectorLen(minElemSize)
//	sub := d.Sub(n); ...; d.Join(sub)     // length-prefixed bodies (message.bytes)
//	err := d.End()                        // first error, or *TrailingBytesError
//	err := tl.Unmarshal(b, &mt.ResPQ{})   // one boxed object of a known constructor
//
// A Registry is immutable and safe to share; an Encoder or Decoder belongs to one goroutine. Decoder.String
// reads a TL string: do not pass a Decoder to fmt (it would consume input). After an encoding error the
// Encoder's bytes are incomplete: drop them. Optional scalars are set with tl.Ptr(v).
//
// Objects: every generated constructor and method struct implements Object:
//
//	type Object interface {
//	    TypeID() uint32          // constructor id (canonical layer)
//	    TypeName() string        // TL name, e.g. "messages.sendMessage"
//	    Encode(*Encoder) error   // bare: fields only
//	    Decode(*Decoder) error   // bare: fields only, id already read
//	}
//
// and fmt.Stringer (a compact one-line form for logs). Methods (TL functions, e.g.
// api.MessagesSendMessageRequest, mt.PingRequest) also implement Method: DecodeResult(*Decoder) reads the
// boxed result of that call. A method whose parameter is another call (invokeWithLayer, initConnection,
// invokeAfterMsg, invokeWithoutUpdates, ...) holds it in a field `Query tl.Object`, decoded through the
// Decoder's registry; its result is the inner query's result.
//
// Errors: *UnknownConstructorError{ID, Type} for an id the registry or the expected type does not know;
// ErrTruncated, ErrTooLong (length or vector count beyond the input), ErrTooDeep, ErrNonCanonical,
// ErrGzipTooLarge, *TrailingBytesError; decoding errors arrive wrapped in *DecodeError{Offset}. Use errors.As /
// errors.Is. Encoding: ErrNilObject (nil required field), ErrPartialFlagGroup.
//
// Limits: nesting depth DefaultMaxDepth (64) boxed levels; gzip_packed output DefaultMaxUnpacked (4 MiB) per
// decode in total; vector counts bounded by remaining bytes / minimum element size; lengths by remaining bytes.
// Change with Decoder.SetLimits.
//
// gzip_packed: Decoder.Object (and tl.DecodeObject) unpack it transparently wherever any object may appear
// (message bodies, rpc_result results, !X queries). To send one: gz, err := tl.Gzip(obj); e.PutObject(gz).
//
// Already-encoded objects (a cached push, a resent answer) are sent as tl.Raw(bytes): PutObject writes them
// unchanged.
//
// tl.Walk(obj, f) visits every object nested in a value (reflection; for checks such as api.CheckLayer, which
// tells whether a layer-227 answer's canonical bytes are also valid at an older client's layer).
//
// Method results that are vectors are Objects too: tl.IntVector, tl.LongVector, and generated
// api.<Elem>ClassVector / api.<Elem>Vector types (e.g. api.UserClassVector for Vector<User>).
//
// # Generated Go shapes (tl/mt, tl/api)
//
// Names follow gotd's conventions: constructor inputPeerUser -> InputPeerUser, messages.dialogs ->
// MessagesDialogs; method messages.sendMessage -> MessagesSendMessageRequest; abstract type InputPeer ->
// interface InputPeerClass (implemented by its constructors); ids as constants InputPeerUserTypeID. Field
// names are CamelCase with common acronyms (user_id -> UserID, dc_id -> DCID, url -> URL).
//
// Fields: int -> int32, long -> int64, double -> float64, string -> string, bytes -> []byte, int128/int256 ->
// tl.Int128/tl.Int256, Bool -> bool, Vector<T> -> []T, a type with several constructors -> its XClass
// interface, a type with exactly one constructor -> *X, !X / Object -> tl.Object.
// Flags words (flags:#, flags2:#) are not fields: Encode computes them from the optional fields. An optional
// field is present when non-nil: optional scalars are pointers (*int32, *string, *bool, ...), optional
// vectors/bytes are nil when absent (a present empty vector is a non-nil empty slice), optional objects are
// nil when absent; flags.N?true fields are plain bools. Fields sharing one bit must be set together.
// Flag bits the schema does not define are kept from decoding and written back unchanged, so decoding and
// re-encoding never changes bytes.
//
// Each generated package exports New(id) tl.Object (a tl.Lookup: zero value for an id, nil if unknown), and
// Decode<Type>(d) functions for each abstract type. tl/api also decodes the older layers' (223, 198, 170)
// forms that map mechanically onto the canonical struct (a field the old form lacks is optional in 227, a
// dropped field is discarded, same result type): New accepts their ids, IsLegacy(id) reports them, the
// Decoder reports Lossy, and tl.WireID(obj) returns the id the value arrived with (obj.TypeID() is always the
// canonical id; Encode always writes layer 227). api.LayerIDs(name) gives a name's id per layer
// (api.L227, L223, L198, L170). api.EncodeLayer(e, obj, layer) writes a canonical value as a client at an
// older layer reads it (api.LayerFor(n) picks the layer for an announced number); it is transactional and
// fails with *api.NotInLayerError. See tl/DESIGN.md for the multi-layer design and tl/layers/REPORT.md.
package tl
