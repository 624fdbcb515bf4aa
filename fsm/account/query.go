package account

import (
	"sort"
	"strings"

	"github.com/raftgram/raftgram/fsm"
)

// Query types (node.QueryType values 1..99 belong to this package).
const (
	QUsers    uint16 = 1 // UsersQuery -> UsersView
	QPhones   uint16 = 2 // phones -> uids
	QName     uint16 = 3 // lower-case username -> uid
	QContacts uint16 = 4 // owner -> contacts
	QAuths    uint16 = 5 // uid -> authorizations
	QCodes    uint16 = 6 // now -> live login codes of the shard
	QSearch   uint16 = 7 // SearchQuery -> uids
	QRev      uint16 = 8 // uid -> owners who have uid as a contact
	QBlocked  uint16 = 9 // owner -> blocked ids and dates
	// QNameClaim: lower-case username -> the claim's (uid, nonce), (0, 0) if free.
	QNameClaim uint16 = 10
)

// QueryFunc is the shape of node.QueryFunc.
type QueryFunc func(r fsm.Reader, payload []byte) ([]byte, error)

// Queries returns this package's queries by type.
func Queries() map[uint16]QueryFunc {
	return map[uint16]QueryFunc{
		QUsers: queryUsers, QPhones: queryPhones, QName: queryName, QContacts: queryContacts, QAuths: queryAuths,
		QCodes: queryCodes, QSearch: querySearch, QRev: queryRev, QBlocked: queryBlocked, QNameClaim: queryNameClaim,
	}
}

const maxQueryIDs = 10000

func encIDs(e enc, ids []int64) enc {
	e = e.count(len(ids))
	for _, id := range ids {
		e = e.i64(id)
	}
	return e
}

func decIDs(d *dec) []int64 {
	n := d.count(maxQueryIDs, 8)
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = d.i64()
	}
	return ids
}

// UsersQuery asks for user records (IDs, in this shard) and for the viewer's relation to RelIDs (the
// viewer's contacts and blocks; found only in the viewer's shard).
type UsersQuery struct {
	Viewer int64
	IDs    []int64
	RelIDs []int64
}

// Encode is the query payload.
func (q UsersQuery) Encode() []byte { return encIDs(encIDs(enc(nil).i64(q.Viewer), q.IDs), q.RelIDs) }

// UserView is a user record with whether the user has the viewer as a contact.
type UserView struct {
	User      User
	HasViewer bool // the user has the viewer in their contacts
}

// Relation is the viewer's relation to one user.
type Relation struct {
	ID      int64
	Contact *Contact // nil: not a contact
	Blocked bool
}

// UsersView is QUsers' answer.
type UsersView struct {
	Users []UserView
	Rels  []Relation
}

// DecodeUsersView decodes QUsers' answer.
func DecodeUsersView(b []byte) (UsersView, error) {
	d := &dec{b: b}
	var v UsersView
	n := d.count(maxQueryIDs, 2)
	for i := 0; i < n && d.err == nil; i++ {
		var uv UserView
		uv.User.decode(d)
		uv.HasViewer = d.boolean()
		v.Users = append(v.Users, uv)
	}
	n = d.count(maxQueryIDs, 2)
	for i := 0; i < n && d.err == nil; i++ {
		r := Relation{ID: d.i64()}
		if d.boolean() {
			c := Contact{UserID: r.ID, FirstName: d.str(), LastName: d.str(), Phone: d.str(), Date: d.i64()}
			r.Contact = &c
		}
		r.Blocked = d.boolean()
		v.Rels = append(v.Rels, r)
	}
	return v, d.end()
}

func queryUsers(r fsm.Reader, p []byte) ([]byte, error) {
	d := &dec{b: p}
	viewer := d.i64()
	ids, rel := decIDs(d), decIDs(d)
	if err := d.end(); err != nil {
		return nil, err
	}
	var users []enc
	for _, id := range ids {
		v, ok, err := r.Get(userKey(id))
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		u, err := DecodeUser(v)
		if err != nil {
			return nil, err
		}
		_, has, err := r.Get(contactKey(id, viewer))
		if err != nil {
			return nil, err
		}
		users = append(users, enc(u.encode()).boolean(has))
	}
	out := enc(nil).count(len(users))
	for _, u := range users {
		out = append(out, u...)
	}
	out = out.count(len(rel))
	for _, id := range rel {
		out = out.i64(id)
		v, ok, err := r.Get(contactKey(viewer, id))
		if err != nil {
			return nil, err
		}
		out = out.boolean(ok)
		if ok {
			c, err := decodeContactValue(id, v)
			if err != nil {
				return nil, err
			}
			out = out.str(c.FirstName).str(c.LastName).str(c.Phone).i64(c.Date)
		}
		_, blocked, err := r.Get(blockKey(viewer, id))
		if err != nil {
			return nil, err
		}
		out = out.boolean(blocked)
	}
	return out, nil
}

// EncodeStrings is the payload of QPhones.
func EncodeStrings(ss []string) []byte {
	e := enc(nil).count(len(ss))
	for _, s := range ss {
		e = e.str(s)
	}
	return e
}

func queryPhones(r fsm.Reader, p []byte) ([]byte, error) {
	d := &dec{b: p}
	n := d.count(maxQueryIDs, 1)
	out := enc(nil).count(n)
	for i := 0; i < n; i++ {
		uid := int64(0)
		v, ok, err := r.Get(phoneKey(d.str()))
		if err != nil {
			return nil, err
		}
		if ok && len(v) == 8 {
			uid = idAt(v, 0)
		}
		out = out.i64(uid)
	}
	return out, d.end()
}

// DecodeIDs decodes a list of ids (QPhones, QRev, QSearch answers).
func DecodeIDs(b []byte) ([]int64, error) {
	d := &dec{b: b}
	ids := decIDs(d)
	return ids, d.end()
}

func queryName(r fsm.Reader, p []byte) ([]byte, error) {
	v, ok, err := r.Get(nameKey(string(p)))
	if err != nil || !ok {
		return enc(nil).i64(0), err
	}
	c, err := decodeClaim(v)
	if err != nil {
		return nil, err
	}
	return enc(nil).i64(c.UserID), nil
}

func queryNameClaim(r fsm.Reader, p []byte) ([]byte, error) {
	v, ok, err := r.Get(nameKey(string(p)))
	if err != nil || !ok {
		return enc(nil).i64(0).i64(0), err
	}
	c, err := decodeClaim(v)
	if err != nil {
		return nil, err
	}
	return enc(nil).i64(c.UserID).i64(c.Nonce), nil
}

// DecodeNameClaim decodes QNameClaim's answer: the owner and the nonce of its attempt (0, 0: free).
func DecodeNameClaim(b []byte) (uid, nonce int64, err error) {
	d := &dec{b: b}
	uid, nonce = d.i64(), d.i64()
	return uid, nonce, d.end()
}

// DecodeID decodes a single id (QName's answer).
func DecodeID(b []byte) (int64, error) {
	d := &dec{b: b}
	id := d.i64()
	return id, d.end()
}

// EncodeID is the payload of the queries that take one id.
func EncodeID(id int64) []byte { return enc(nil).i64(id) }

func oneID(p []byte) (int64, error) { return DecodeID(p) }

func queryContacts(r fsm.Reader, p []byte) ([]byte, error) {
	owner, err := oneID(p)
	if err != nil {
		return nil, err
	}
	var out []enc
	pre := key("k/", owner)
	var derr error
	err = r.Scan(pre, fsm.PrefixEnd(pre), func(k, v []byte) bool {
		c, err := decodeContactValue(idAt(k, len(pre)), v)
		if err != nil {
			derr = err
			return false
		}
		out = append(out, enc(nil).i64(c.UserID).str(c.FirstName).str(c.LastName).str(c.Phone).i64(c.Date))
		return len(out) < MaxContacts
	})
	if err == nil {
		err = derr
	}
	e := enc(nil).count(len(out))
	for _, c := range out {
		e = append(e, c...)
	}
	return e, err
}

// DecodeContacts decodes QContacts' answer (sorted by user id).
func DecodeContacts(b []byte) ([]Contact, error) {
	d := &dec{b: b}
	n := d.count(MaxContacts, 8)
	out := make([]Contact, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, Contact{UserID: d.i64(), FirstName: d.str(), LastName: d.str(), Phone: d.str(), Date: d.i64()})
	}
	return out, d.end()
}

func queryAuths(r fsm.Reader, p []byte) ([]byte, error) {
	uid, err := oneID(p)
	if err != nil {
		return nil, err
	}
	pre := key("h/", uid)
	var vals [][]byte
	err = r.Scan(pre, fsm.PrefixEnd(pre), func(_, v []byte) bool {
		vals = append(vals, append([]byte(nil), v...))
		return len(vals) < MaxAuths
	})
	e := enc(nil).count(len(vals))
	for _, v := range vals {
		e = append(e, v...)
	}
	return e, err
}

// DecodeAuths decodes QAuths' answer.
func DecodeAuths(b []byte) ([]Auth, error) {
	d := &dec{b: b}
	n := d.count(MaxAuths, 16)
	out := make([]Auth, n)
	for i := range out {
		out[i].decode(d)
	}
	return out, d.end()
}

func queryCodes(r fsm.Reader, p []byte) ([]byte, error) {
	now, err := oneID(p)
	if err != nil {
		return nil, err
	}
	pre := key("c/")
	var codes [][]byte
	err = r.Scan(pre, fsm.PrefixEnd(pre), func(_, v []byte) bool {
		c, err := decodeCode(v)
		if err == nil && c.Expires > now && c.State == codePending {
			codes = append(codes, c.encode())
		}
		return len(codes) < 1000
	})
	e := enc(nil).count(len(codes))
	for _, c := range codes {
		e = append(e, c...)
	}
	return e, err
}

// DecodeCodes decodes QCodes' answer.
func DecodeCodes(b []byte) ([]Code, error) {
	d := &dec{b: b}
	n := d.count(1000, 8)
	out := make([]Code, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		var c Code
		if d.u8() != recordVersion {
			d.fail()
		}
		c.Phone, c.Hash, c.Code, c.Created, c.Expires = d.str(), d.str(), d.str(), d.i64(), d.i64()
		c.State, c.UserID = d.u8(), d.i64()
		out = append(out, c)
	}
	return out, d.end()
}

// SearchQuery finds users by username prefix (any shard) and the viewer's contacts by name (viewer's shard).
type SearchQuery struct {
	Viewer int64
	Q      string // lower case
	Limit  int32
}

// Encode is the query payload.
func (q SearchQuery) Encode() []byte { return enc(nil).i64(q.Viewer).str(q.Q).i32(q.Limit) }

func querySearch(r fsm.Reader, p []byte) ([]byte, error) {
	d := &dec{b: p}
	q := SearchQuery{Viewer: d.i64(), Q: d.str(), Limit: d.i32()}
	if err := d.end(); err != nil {
		return nil, err
	}
	limit := int(min(max(q.Limit, 1), 100))
	seen := map[int64]bool{}
	var ids []int64
	add := func(id int64) {
		if !seen[id] && len(ids) < 2*limit {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	pre := key("k/", q.Viewer)
	err := r.Scan(pre, fsm.PrefixEnd(pre), func(k, v []byte) bool {
		c, err := decodeContactValue(idAt(k, len(pre)), v)
		if err == nil && nameMatches(q.Q, c.FirstName, c.LastName) {
			add(c.UserID)
		}
		return len(ids) < limit
	})
	if err != nil {
		return nil, err
	}
	if q.Q != "" {
		np := nameKey(q.Q)
		err = r.Scan(np, fsm.PrefixEnd(np), func(_, v []byte) bool {
			if c, err := decodeClaim(v); err == nil {
				add(c.UserID)
			}
			return len(ids) < 2*limit
		})
	}
	return encIDs(nil, ids), err
}

// nameMatches: q (lower case) is a prefix of the first name, the last name or a word of them.
func nameMatches(q, first, last string) bool {
	if q == "" {
		return false
	}
	for _, w := range strings.Fields(strings.ToLower(first + " " + last)) {
		if strings.HasPrefix(w, q) {
			return true
		}
	}
	return strings.HasPrefix(strings.ToLower(first+" "+last), q)
}

func queryRev(r fsm.Reader, p []byte) ([]byte, error) {
	uid, err := oneID(p)
	if err != nil {
		return nil, err
	}
	pre := key("r/", uid)
	var ids []int64
	err = r.Scan(pre, fsm.PrefixEnd(pre), func(k, _ []byte) bool {
		ids = append(ids, idAt(k, len(pre)))
		return len(ids) < MaxContacts
	})
	return encIDs(nil, ids), err
}

// Blocked is one blocked user.
type Blocked struct {
	UserID int64
	Date   int64
}

func queryBlocked(r fsm.Reader, p []byte) ([]byte, error) {
	owner, err := oneID(p)
	if err != nil {
		return nil, err
	}
	pre := key("b/", owner)
	var out []Blocked
	err = r.Scan(pre, fsm.PrefixEnd(pre), func(k, v []byte) bool {
		out = append(out, Blocked{UserID: idAt(k, len(pre)), Date: idAt(v, 0)})
		return len(out) < MaxBlocked
	})
	// Newest first, as Telegram lists them.
	sort.SliceStable(out, func(i, j int) bool { return out[i].Date > out[j].Date })
	e := enc(nil).count(len(out))
	for _, b := range out {
		e = e.i64(b.UserID).i64(b.Date)
	}
	return e, err
}

// DecodeBlocked decodes QBlocked's answer.
func DecodeBlocked(b []byte) ([]Blocked, error) {
	d := &dec{b: b}
	n := d.count(MaxBlocked, 16)
	out := make([]Blocked, n)
	for i := range out {
		out[i] = Blocked{UserID: d.i64(), Date: d.i64()}
	}
	return out, d.end()
}

// ContactsHash is Telegram's hash of a contact list: a fold over the sorted contact ids (clients compute the
// same over what they hold and send it to contacts.getContacts).
func ContactsHash(ids []int64) int64 {
	s := append([]int64(nil), ids...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var h uint64
	for _, id := range s {
		h ^= h >> 21
		h ^= h << 35
		h ^= h >> 4
		h += uint64(id)
	}
	return int64(h)
}
