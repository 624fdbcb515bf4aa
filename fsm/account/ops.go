package account

import (
	"github.com/raftgram/raftgram/fsm"
)

// TypeV1 is the fsm command type of this package (encoding version 1); 81..99 are reserved for later ones.
const TypeV1 fsm.CommandType = 80

// Op codes of TypeV1 (the set is frozen: a new op needs a new type, fsm/DESIGN.md invariant 6).
const (
	opSendCode      = 1
	opSignIn        = 2
	opSignUp        = 3
	opCancelCode    = 4
	opAddAuth       = 5
	opDelAuth       = 6
	opUpdateProfile = 7
	opSetStatus     = 8
	opNamePending   = 9
	opNameClaim     = 10
	opNameSet       = 11
	opNameRelease   = 12
	opContactAdd    = 13
	opContactDel    = 14
	opRevAdd        = 15
	opRevDel        = 16
	opBlock         = 17
	opUnblock       = 18
)

// Op is one account command; Payload encodes it as a TypeV1 payload.
type Op interface {
	op() byte
	enc(e enc) enc
}

// decodable is an Op pointer a payload decodes into.
type decodable interface {
	Op
	dec(d *dec)
}

// Payload is the TypeV1 payload of o.
func Payload(o Op) []byte { return o.enc(enc{o.op()}) }

// SendCode stores a new login code for a phone (phone's shard).
type SendCode struct {
	Phone, Hash, Code string
	TTL               int64 // ms
	MaxSends          int32 // codes per phone per Window
	Window            int64 // ms
}

// SignIn checks a code (phone's shard).
type SignIn struct {
	Phone, Hash, Code string
	MaxAttempts       int32 // failed attempts per phone before the lock
	Lockout           int64 // ms
}

// SignUp creates the user of a verified code (phone's shard).
type SignUp struct {
	Phone, Hash, FirstName, LastName string
}

// CancelCode drops a code (phone's shard).
type CancelCode struct{ Phone, Hash string }

// AddAuth records an authorization (user's shard).
type AddAuth struct {
	UserID int64
	Auth   Auth
}

// DelAuth removes the authorization of a permanent key (user's shard).
type DelAuth struct{ UserID, PermKey int64 }

// UpdateProfile changes the names or bio (user's shard); nil fields stay.
type UpdateProfile struct {
	UserID                     int64
	FirstName, LastName, About *string
}

// SetStatus records online (until Until, unix ms) or offline (user's shard).
type SetStatus struct {
	UserID int64
	Online bool
	Until  int64
}

// NamePending starts a username attempt (user's shard).
type NamePending struct {
	UserID int64
	Name   string // as typed; "" to remove the username
	Nonce  int64
}

// NameClaim claims a username (name's shard, Name lower case).
type NameClaim struct {
	Name   string
	UserID int64
	Nonce  int64
}

// NameSet confirms an attempt in the user record (user's shard).
type NameSet struct {
	UserID int64
	Name   string
	Nonce  int64
}

// NameRelease frees a claim if it is still (UserID, Nonce) (name's shard, Name lower case).
type NameRelease struct {
	Name   string
	UserID int64
	Nonce  int64
}

// ContactAdd adds or renames a contact (owner's shard).
type ContactAdd struct {
	Owner   int64
	Contact Contact
}

// ContactDel removes a contact (owner's shard).
type ContactDel struct{ Owner, Target int64 }

// RevAdd records that Owner has Target as a contact (target's shard; best effort).
type RevAdd struct{ Target, Owner int64 }

// RevDel removes it.
type RevDel struct{ Target, Owner int64 }

// Block blocks Target for Owner (owner's shard).
type Block struct{ Owner, Target int64 }

// Unblock removes a block (owner's shard).
type Unblock struct{ Owner, Target int64 }

func (SendCode) op() byte { return opSendCode }
func (o SendCode) enc(e enc) enc {
	return e.str(o.Phone).str(o.Hash).str(o.Code).i64(o.TTL).i32(o.MaxSends).i64(o.Window)
}
func (o *SendCode) dec(d *dec) {
	o.Phone, o.Hash, o.Code, o.TTL, o.MaxSends, o.Window = d.str(), d.str(), d.str(), d.i64(), d.i32(), d.i64()
}

func (SignIn) op() byte { return opSignIn }
func (o SignIn) enc(e enc) enc {
	return e.str(o.Phone).str(o.Hash).str(o.Code).i32(o.MaxAttempts).i64(o.Lockout)
}
func (o *SignIn) dec(d *dec) {
	o.Phone, o.Hash, o.Code, o.MaxAttempts, o.Lockout = d.str(), d.str(), d.str(), d.i32(), d.i64()
}

func (SignUp) op() byte        { return opSignUp }
func (o SignUp) enc(e enc) enc { return e.str(o.Phone).str(o.Hash).str(o.FirstName).str(o.LastName) }
func (o *SignUp) dec(d *dec) {
	o.Phone, o.Hash, o.FirstName, o.LastName = d.str(), d.str(), d.str(), d.str()
}
func (CancelCode) op() byte        { return opCancelCode }
func (o CancelCode) enc(e enc) enc { return e.str(o.Phone).str(o.Hash) }
func (o *CancelCode) dec(d *dec)   { o.Phone, o.Hash = d.str(), d.str() }
func (AddAuth) op() byte           { return opAddAuth }
func (o AddAuth) enc(e enc) enc    { return o.Auth.encode(e.i64(o.UserID)) }
func (o *AddAuth) dec(d *dec)      { o.UserID = d.i64(); o.Auth.decode(d) }
func (DelAuth) op() byte           { return opDelAuth }
func (o DelAuth) enc(e enc) enc    { return e.i64(o.UserID).i64(o.PermKey) }
func (o *DelAuth) dec(d *dec)      { o.UserID, o.PermKey = d.i64(), d.i64() }

func (UpdateProfile) op() byte { return opUpdateProfile }
func (o UpdateProfile) enc(e enc) enc {
	e = e.i64(o.UserID)
	for _, p := range []*string{o.FirstName, o.LastName, o.About} {
		e = e.boolean(p != nil)
		if p != nil {
			e = e.str(*p)
		}
	}
	return e
}
func (o *UpdateProfile) dec(d *dec) {
	o.UserID = d.i64()
	for _, p := range []**string{&o.FirstName, &o.LastName, &o.About} {
		if d.boolean() {
			s := d.str()
			*p = &s
		}
	}
}

func (SetStatus) op() byte          { return opSetStatus }
func (o SetStatus) enc(e enc) enc   { return e.i64(o.UserID).boolean(o.Online).i64(o.Until) }
func (o *SetStatus) dec(d *dec)     { o.UserID, o.Online, o.Until = d.i64(), d.boolean(), d.i64() }
func (NamePending) op() byte        { return opNamePending }
func (o NamePending) enc(e enc) enc { return e.i64(o.UserID).str(o.Name).i64(o.Nonce) }
func (o *NamePending) dec(d *dec)   { o.UserID, o.Name, o.Nonce = d.i64(), d.str(), d.i64() }
func (NameClaim) op() byte          { return opNameClaim }
func (o NameClaim) enc(e enc) enc   { return e.str(o.Name).i64(o.UserID).i64(o.Nonce) }
func (o *NameClaim) dec(d *dec)     { o.Name, o.UserID, o.Nonce = d.str(), d.i64(), d.i64() }
func (NameSet) op() byte            { return opNameSet }
func (o NameSet) enc(e enc) enc     { return e.i64(o.UserID).str(o.Name).i64(o.Nonce) }
func (o *NameSet) dec(d *dec)       { o.UserID, o.Name, o.Nonce = d.i64(), d.str(), d.i64() }
func (NameRelease) op() byte        { return opNameRelease }
func (o NameRelease) enc(e enc) enc { return e.str(o.Name).i64(o.UserID).i64(o.Nonce) }
func (o *NameRelease) dec(d *dec)   { o.Name, o.UserID, o.Nonce = d.str(), d.i64(), d.i64() }
func (ContactAdd) op() byte         { return opContactAdd }
func (o ContactAdd) enc(e enc) enc {
	c := o.Contact
	return e.i64(o.Owner).i64(c.UserID).str(c.FirstName).str(c.LastName).str(c.Phone)
}
func (o *ContactAdd) dec(d *dec) {
	o.Owner, o.Contact.UserID = d.i64(), d.i64()
	o.Contact.FirstName, o.Contact.LastName, o.Contact.Phone = d.str(), d.str(), d.str()
}
func (ContactDel) op() byte        { return opContactDel }
func (o ContactDel) enc(e enc) enc { return e.i64(o.Owner).i64(o.Target) }
func (o *ContactDel) dec(d *dec)   { o.Owner, o.Target = d.i64(), d.i64() }
func (RevAdd) op() byte            { return opRevAdd }
func (o RevAdd) enc(e enc) enc     { return e.i64(o.Target).i64(o.Owner) }
func (o *RevAdd) dec(d *dec)       { o.Target, o.Owner = d.i64(), d.i64() }
func (RevDel) op() byte            { return opRevDel }
func (o RevDel) enc(e enc) enc     { return e.i64(o.Target).i64(o.Owner) }
func (o *RevDel) dec(d *dec)       { o.Target, o.Owner = d.i64(), d.i64() }
func (Block) op() byte             { return opBlock }
func (o Block) enc(e enc) enc      { return e.i64(o.Owner).i64(o.Target) }
func (o *Block) dec(d *dec)        { o.Owner, o.Target = d.i64(), d.i64() }
func (Unblock) op() byte           { return opUnblock }
func (o Unblock) enc(e enc) enc    { return e.i64(o.Owner).i64(o.Target) }
func (o *Unblock) dec(d *dec)      { o.Owner, o.Target = d.i64(), d.i64() }

// decodeOp decodes a TypeV1 payload.
func decodeOp(p []byte) (Op, error) {
	if len(p) == 0 {
		return nil, errShort
	}
	var o decodable
	switch p[0] {
	case opSendCode:
		o = &SendCode{}
	case opSignIn:
		o = &SignIn{}
	case opSignUp:
		o = &SignUp{}
	case opCancelCode:
		o = &CancelCode{}
	case opAddAuth:
		o = &AddAuth{}
	case opDelAuth:
		o = &DelAuth{}
	case opUpdateProfile:
		o = &UpdateProfile{}
	case opSetStatus:
		o = &SetStatus{}
	case opNamePending:
		o = &NamePending{}
	case opNameClaim:
		o = &NameClaim{}
	case opNameSet:
		o = &NameSet{}
	case opNameRelease:
		o = &NameRelease{}
	case opContactAdd:
		o = &ContactAdd{}
	case opContactDel:
		o = &ContactDel{}
	case opRevAdd:
		o = &RevAdd{}
	case opRevDel:
		o = &RevDel{}
	case opBlock:
		o = &Block{}
	case opUnblock:
		o = &Unblock{}
	default:
		return nil, errShort
	}
	d := &dec{b: p[1:]}
	o.dec(d)
	return o, d.end()
}

// Outcome is the result of SendCode, SignIn and SignUp: state-changing outcomes (an attempt counted) are
// results, since an ApplyError keeps no writes.
type Outcome struct {
	Status   Status
	UserID   int64
	Wait     int64 // seconds (StatusFlood)
	HasAuths bool  // SendCode: the phone's user has authorizations (code goes to its sessions)
}

// Status of an Outcome.
type Status byte

// Statuses.
const (
	StatusOK             Status = 0
	StatusSignUpRequired Status = 1 // SignIn: right code, no user for the phone
	StatusCodeInvalid    Status = 2
	StatusCodeExpired    Status = 3
	StatusFlood          Status = 4
	StatusOccupied       Status = 5 // SignUp: the phone has a user
	StatusNotVerified    Status = 6 // SignUp: the code was not verified by SignIn
)

func (o Outcome) encode() []byte {
	return enc(nil).u8(byte(o.Status)).i64(o.UserID).i64(o.Wait).boolean(o.HasAuths)
}

// DecodeOutcome decodes the result of SendCode, SignIn or SignUp.
func DecodeOutcome(b []byte) (Outcome, error) {
	d := &dec{b: b}
	o := Outcome{Status: Status(d.u8()), UserID: d.i64(), Wait: d.i64(), HasAuths: d.boolean()}
	return o, d.end()
}

// NameRef is a (name, nonce) pair: NamePending's previous pending attempt, NameSet's previous username.
type NameRef struct {
	Name  string
	Nonce int64
}

func (n NameRef) encode() []byte { return enc(nil).str(n.Name).i64(n.Nonce) }

// DecodeNameRef decodes the result of NamePending or NameSet.
func DecodeNameRef(b []byte) (NameRef, error) {
	d := &dec{b: b}
	n := NameRef{Name: d.str(), Nonce: d.i64()}
	return n, d.end()
}

// DecodeAuthHash decodes the result of AddAuth (the authorization's hash).
func DecodeAuthHash(b []byte) (int64, error) {
	d := &dec{b: b}
	h := d.i64()
	return h, d.end()
}
