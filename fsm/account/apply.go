package account

import (
	"bytes"
	"errors"
	"sort"

	"github.com/raftgram/raftgram/fsm"
	"github.com/raftgram/raftgram/shard"
)

// ApplyError codes of this package's commands.
const (
	CodePayloadInvalid   = "PAYLOAD_INVALID"
	CodeRecordInvalid    = "RECORD_INVALID"
	CodeUserNotFound     = "USER_NOT_FOUND"
	CodeUsernameOccupied = "USERNAME_OCCUPIED"
	CodeNameRace         = "NAME_RACE"
	CodeTooMany          = "LIMIT_REACHED"
)

// Limits of per-user lists (a bound on every scan inside Apply).
const (
	MaxAuths         = 500
	MaxContacts      = 5000
	MaxBlocked       = 1000
	maxCodesPerPhone = 4
	// FirstUserID is where user ids start (well above 777000, below 2^52 for JavaScript clients).
	FirstUserID int64 = 1_000_000_000
	maxUserID   int64 = 1 << 52
)

// ServiceUserID is the service account's id (never allocated to a user).
const ServiceUserID int64 = 777000

// Applier applies TypeV1 commands of a cluster with Shards shards (fixed at init; it decides in which shard a
// new user id lives).
type Applier struct {
	Shards int
}

// Appliers returns the appliers of this package for a cluster of n shards.
func Appliers(n int) map[fsm.CommandType]fsm.Applier {
	return map[fsm.CommandType]fsm.Applier{TypeV1: Applier{Shards: n}}
}

func rejected(code, msg string) error { return &fsm.ApplyError{Code: code, Msg: msg} }

// Apply implements fsm.Applier.
func (a Applier) Apply(tx *fsm.Tx, cmd fsm.Command) ([]byte, error) {
	o, err := decodeOp(cmd.Payload)
	if err != nil {
		return nil, rejected(CodePayloadInvalid, "decode")
	}
	if !validLengths(o) {
		return nil, rejected(CodePayloadInvalid, "field too long")
	}
	now := cmd.Time
	switch o := o.(type) {
	case *SendCode:
		return a.sendCode(tx, now, o)
	case *SignIn:
		return signIn(tx, now, o)
	case *SignUp:
		return a.signUp(tx, now, o)
	case *CancelCode:
		return nil, tx.Delete(codeKey(o.Phone, o.Hash))
	case *AddAuth:
		return addAuth(tx, now, o)
	case *DelAuth:
		return nil, tx.Delete(authKey(o.UserID, o.PermKey))
	case *UpdateProfile:
		return updateUser(tx, o.UserID, func(u *User) error {
			if o.FirstName != nil {
				u.FirstName = *o.FirstName
			}
			if o.LastName != nil {
				u.LastName = *o.LastName
			}
			if o.About != nil {
				u.About = *o.About
			}
			return nil
		})
	case *SetStatus:
		return updateUser(tx, o.UserID, func(u *User) error {
			u.LastSeen = now
			u.OnlineUntil = 0
			if o.Online {
				u.OnlineUntil = o.Until
			}
			return nil
		})
	case *NamePending:
		return namePending(tx, o)
	case *NameClaim:
		return nil, nameClaim(tx, o)
	case *NameSet:
		return nameSet(tx, o)
	case *NameRelease:
		return nil, nameRelease(tx, o)
	case *ContactAdd:
		return nil, contactAdd(tx, now, o)
	case *ContactDel:
		return nil, tx.Delete(contactKey(o.Owner, o.Target))
	case *RevAdd:
		return nil, tx.Set(revKey(o.Target, o.Owner), nil)
	case *RevDel:
		return nil, tx.Delete(revKey(o.Target, o.Owner))
	case *Block:
		return nil, block(tx, now, o)
	case *Unblock:
		return nil, tx.Delete(blockKey(o.Owner, o.Target))
	}
	return nil, rejected(CodePayloadInvalid, "op")
}

// validLengths bounds the strings a command may store.
func validLengths(o Op) bool {
	short := func(ss ...string) bool {
		for _, s := range ss {
			if len(s) > 256 {
				return false
			}
		}
		return true
	}
	switch o := o.(type) {
	case *SendCode:
		return short(o.Phone, o.Hash, o.Code) && o.Phone != "" && o.Hash != ""
	case *SignIn:
		return short(o.Phone, o.Hash, o.Code)
	case *SignUp:
		return short(o.Phone, o.Hash, o.FirstName, o.LastName)
	case *AddAuth:
		a := o.Auth
		return short(a.DeviceModel, a.Platform, a.SystemVersion, a.AppVersion, a.LangCode, a.IP)
	case *ContactAdd:
		return short(o.Contact.FirstName, o.Contact.LastName, o.Contact.Phone)
	}
	return true
}

func getUser(tx *fsm.Tx, uid int64) (User, bool, error) {
	v, ok, err := tx.Get(userKey(uid))
	if err != nil || !ok {
		return User{}, false, err
	}
	u, err := DecodeUser(v)
	if err != nil {
		return User{}, false, rejected(CodeRecordInvalid, "user")
	}
	return u, true, nil
}

func updateUser(tx *fsm.Tx, uid int64, fn func(u *User) error) ([]byte, error) {
	u, ok, err := getUser(tx, uid)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, rejected(CodeUserNotFound, "")
	}
	if err := fn(&u); err != nil {
		return nil, err
	}
	b := u.encode()
	return b, tx.Set(userKey(uid), b)
}

func getLimiter(tx *fsm.Tx, phone string) (limiter, error) {
	v, ok, err := tx.Get(limitKey(phone))
	if err != nil || !ok {
		return limiter{}, err
	}
	l, err := decodeLimiter(v)
	if err != nil {
		return limiter{}, rejected(CodeRecordInvalid, "limiter")
	}
	return l, nil
}

func waitSeconds(until, now int64) int64 { return max(1, (until-now+999)/1000) }

func phoneUser(tx *fsm.Tx, phone string) (int64, error) {
	v, ok, err := tx.Get(phoneKey(phone))
	if err != nil || !ok || len(v) != 8 {
		return 0, err
	}
	return idAt(v, 0), nil
}

func (a Applier) sendCode(tx *fsm.Tx, now int64, o *SendCode) ([]byte, error) {
	l, err := getLimiter(tx, o.Phone)
	if err != nil {
		return nil, err
	}
	if l.LockedUntil > now {
		return Outcome{Status: StatusFlood, Wait: waitSeconds(l.LockedUntil, now)}.encode(), nil
	}
	if now-l.WindowStart >= o.Window {
		l.WindowStart, l.Sends = now, 0
	}
	if o.MaxSends > 0 && l.Sends >= o.MaxSends {
		return Outcome{Status: StatusFlood, Wait: waitSeconds(l.WindowStart+o.Window, now)}.encode(), nil
	}
	l.Sends++
	if err := tx.Set(limitKey(o.Phone), l.encode()); err != nil {
		return nil, err
	}
	// Keep at most maxCodesPerPhone live codes: drop expired ones and the oldest.
	var codes []Code
	p := codePrefix(o.Phone)
	if err := tx.Scan(p, fsm.PrefixEnd(p), func(_, v []byte) bool {
		if c, err := decodeCode(v); err == nil {
			codes = append(codes, c)
		}
		return len(codes) < 64
	}); err != nil {
		return nil, err
	}
	sort.SliceStable(codes, func(i, j int) bool { return codes[i].Created > codes[j].Created })
	for i, c := range codes {
		if i >= maxCodesPerPhone-1 || c.Expires <= now {
			if err := tx.Delete(codeKey(o.Phone, c.Hash)); err != nil {
				return nil, err
			}
		}
	}
	c := Code{Phone: o.Phone, Hash: o.Hash, Code: o.Code, Created: now, Expires: now + o.TTL}
	if err := tx.Set(codeKey(o.Phone, o.Hash), c.encode()); err != nil {
		return nil, err
	}
	uid, err := phoneUser(tx, o.Phone)
	if err != nil {
		return nil, err
	}
	out := Outcome{Status: StatusOK, UserID: uid}
	if uid != 0 {
		p := key("h/", uid)
		if err := tx.Scan(p, fsm.PrefixEnd(p), func(_, _ []byte) bool { out.HasAuths = true; return false }); err != nil {
			return nil, err
		}
	}
	return out.encode(), nil
}

func getCode(tx *fsm.Tx, phone, hash string) (Code, bool, error) {
	v, ok, err := tx.Get(codeKey(phone, hash))
	if err != nil || !ok {
		return Code{}, false, err
	}
	c, err := decodeCode(v)
	if err != nil {
		return Code{}, false, rejected(CodeRecordInvalid, "code")
	}
	return c, true, nil
}

func signIn(tx *fsm.Tx, now int64, o *SignIn) ([]byte, error) {
	l, err := getLimiter(tx, o.Phone)
	if err != nil {
		return nil, err
	}
	if l.LockedUntil > now {
		return Outcome{Status: StatusFlood, Wait: waitSeconds(l.LockedUntil, now)}.encode(), nil
	}
	c, ok, err := getCode(tx, o.Phone, o.Hash)
	if err != nil {
		return nil, err
	}
	if !ok || c.Expires <= now || c.State == codeUsed {
		return Outcome{Status: StatusCodeExpired}.encode(), nil
	}
	if c.Code != o.Code {
		l.Fails++
		if o.MaxAttempts > 0 && l.Fails >= o.MaxAttempts {
			l.Fails, l.LockedUntil = 0, now+o.Lockout
			p := codePrefix(o.Phone)
			var stale [][]byte
			if err := tx.Scan(p, fsm.PrefixEnd(p), func(k, _ []byte) bool {
				stale = append(stale, bytes.Clone(k))
				return len(stale) < 64
			}); err != nil {
				return nil, err
			}
			for _, k := range stale {
				if err := tx.Delete(k); err != nil {
					return nil, err
				}
			}
		}
		if err := tx.Set(limitKey(o.Phone), l.encode()); err != nil {
			return nil, err
		}
		return Outcome{Status: StatusCodeInvalid}.encode(), nil
	}
	if l.Fails != 0 {
		l.Fails = 0
		if err := tx.Set(limitKey(o.Phone), l.encode()); err != nil {
			return nil, err
		}
	}
	uid, err := phoneUser(tx, o.Phone)
	if err != nil {
		return nil, err
	}
	if uid != 0 {
		// Signed in: the code is spent.
		return Outcome{Status: StatusOK, UserID: uid}.encode(), tx.Delete(codeKey(o.Phone, o.Hash))
	}
	c.State = codeVerified
	return Outcome{Status: StatusSignUpRequired}.encode(), tx.Set(codeKey(o.Phone, o.Hash), c.encode())
}

func (a Applier) signUp(tx *fsm.Tx, now int64, o *SignUp) ([]byte, error) {
	c, ok, err := getCode(tx, o.Phone, o.Hash)
	if err != nil {
		return nil, err
	}
	if !ok || c.Expires <= now {
		return Outcome{Status: StatusCodeExpired}.encode(), nil
	}
	if c.State == codeUsed {
		// A retry of the sign-up that used this code: the same user.
		return Outcome{Status: StatusOK, UserID: c.UserID}.encode(), nil
	}
	if c.State != codeVerified {
		return Outcome{Status: StatusNotVerified}.encode(), nil
	}
	if uid, err := phoneUser(tx, o.Phone); err != nil || uid != 0 {
		return Outcome{Status: StatusOccupied, UserID: uid}.encode(), err
	}
	uid, err := a.allocate(tx, PhoneShard(o.Phone, a.Shards))
	if err != nil {
		return nil, err
	}
	u := User{ID: uid, Phone: o.Phone, FirstName: o.FirstName, LastName: o.LastName, Created: now, LastSeen: now}
	c.State, c.UserID = codeUsed, uid
	for _, err := range []error{
		tx.Set(userKey(uid), u.encode()),
		tx.Set(phoneKey(o.Phone), enc(nil).i64(uid)),
		tx.Set(codeKey(o.Phone, o.Hash), c.encode()),
	} {
		if err != nil {
			return nil, err
		}
	}
	return Outcome{Status: StatusOK, UserID: uid}.encode(), nil
}

// allocate returns the next user id that lives in shard s (so the user record and the phone index share the
// shard) and advances the shard's counter.
func (a Applier) allocate(tx *fsm.Tx, s uint32) (int64, error) {
	last := FirstUserID
	if v, ok, err := tx.Get(seqKey()); err != nil {
		return 0, err
	} else if ok && len(v) == 8 {
		last = idAt(v, 0)
	}
	for tries := 0; tries < 64*max(1, a.Shards); tries++ {
		last++
		if last >= maxUserID {
			break
		}
		if last == ServiceUserID || shard.Of(last, a.Shards) != s {
			continue
		}
		if _, ok, err := tx.Get(userKey(last)); err != nil {
			return 0, err
		} else if ok {
			continue
		}
		return last, tx.Set(seqKey(), enc(nil).i64(last))
	}
	return 0, rejected(CodeTooMany, "user ids")
}

func countPrefix(tx *fsm.Tx, p []byte, limit int) (int, error) {
	n := 0
	err := tx.Scan(p, fsm.PrefixEnd(p), func(_, _ []byte) bool { n++; return n < limit })
	return n, err
}

func addAuth(tx *fsm.Tx, now int64, o *AddAuth) ([]byte, error) {
	if _, ok, err := getUser(tx, o.UserID); err != nil {
		return nil, err
	} else if !ok {
		return nil, rejected(CodeUserNotFound, "")
	}
	k := authKey(o.UserID, o.Auth.PermKey)
	a := o.Auth
	a.Created, a.Active = now, now
	if v, ok, err := tx.Get(k); err != nil {
		return nil, err
	} else if ok {
		var old Auth
		d := &dec{b: v}
		old.decode(d)
		if d.end() == nil {
			a.Hash, a.Created = old.Hash, old.Created // the same key signing in again keeps its identity
		}
	} else if n, err := countPrefix(tx, key("h/", o.UserID), MaxAuths); err != nil {
		return nil, err
	} else if n >= MaxAuths {
		return nil, rejected(CodeTooMany, "authorizations")
	}
	return enc(nil).i64(a.Hash), tx.Set(k, a.encode(nil))
}

func namePending(tx *fsm.Tx, o *NamePending) ([]byte, error) {
	var prev NameRef
	_, err := updateUser(tx, o.UserID, func(u *User) error {
		if u.PendingName != "" && u.PendNonce != o.Nonce {
			prev = NameRef{Name: u.PendingName, Nonce: u.PendNonce}
		}
		u.PendingName, u.PendNonce = o.Name, o.Nonce
		if o.Name == "" {
			u.PendingName = "\x00" // removal in progress: NameSet("") must find this attempt
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return prev.encode(), nil
}

func nameClaim(tx *fsm.Tx, o *NameClaim) error {
	v, ok, err := tx.Get(nameKey(o.Name))
	if err != nil {
		return err
	}
	if ok {
		c, err := decodeClaim(v)
		if err != nil {
			return rejected(CodeRecordInvalid, "claim")
		}
		if c.UserID != o.UserID {
			return rejected(CodeUsernameOccupied, "")
		}
	}
	return tx.Set(nameKey(o.Name), claim{UserID: o.UserID, Nonce: o.Nonce}.encode())
}

func nameSet(tx *fsm.Tx, o *NameSet) ([]byte, error) {
	var old NameRef
	_, err := updateUser(tx, o.UserID, func(u *User) error {
		want := o.Name
		if want == "" {
			want = "\x00"
		}
		if u.PendingName != want || u.PendNonce != o.Nonce {
			if u.Username == o.Name && u.NameNonce == o.Nonce {
				// Already confirmed by another NameSet of the same attempt (the owner's own, or another
				// client's roll-forward of it): done, nothing older to release.
				old = NameRef{}
				return errAlreadySet
			}
			return rejected(CodeNameRace, "")
		}
		old = NameRef{Name: u.Username, Nonce: u.NameNonce}
		u.Username, u.NameNonce = o.Name, o.Nonce
		u.PendingName, u.PendNonce = "", 0
		return nil
	})
	if errors.Is(err, errAlreadySet) {
		return NameRef{}.encode(), nil
	}
	if err != nil {
		return nil, err
	}
	return old.encode(), nil
}

// errAlreadySet ends an updateUser callback without writing: the attempt was already confirmed.
var errAlreadySet = errors.New("account: username already set by this attempt")

func nameRelease(tx *fsm.Tx, o *NameRelease) error {
	v, ok, err := tx.Get(nameKey(o.Name))
	if err != nil || !ok {
		return err
	}
	c, err := decodeClaim(v)
	if err != nil {
		return rejected(CodeRecordInvalid, "claim")
	}
	if c.UserID != o.UserID || c.Nonce != o.Nonce {
		return nil // re-claimed since (a newer attempt of the owner) or never ours: keep
	}
	return tx.Delete(nameKey(o.Name))
}

func contactAdd(tx *fsm.Tx, now int64, o *ContactAdd) error {
	k := contactKey(o.Owner, o.Contact.UserID)
	if _, ok, err := tx.Get(k); err != nil {
		return err
	} else if !ok {
		n, err := countPrefix(tx, key("k/", o.Owner), MaxContacts)
		if err != nil {
			return err
		}
		if n >= MaxContacts {
			return rejected(CodeTooMany, "contacts")
		}
	}
	c := o.Contact
	c.Date = now
	return tx.Set(k, c.encodeValue())
}

func block(tx *fsm.Tx, now int64, o *Block) error {
	k := blockKey(o.Owner, o.Target)
	if _, ok, err := tx.Get(k); err != nil || ok {
		return err
	}
	n, err := countPrefix(tx, key("b/", o.Owner), MaxBlocked)
	if err != nil {
		return err
	}
	if n >= MaxBlocked {
		return rejected(CodeTooMany, "blocked")
	}
	return tx.Set(k, enc(nil).i64(now))
}
