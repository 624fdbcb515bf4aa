package account

// User is a stored user record.
type User struct {
	ID          int64
	Phone       string
	FirstName   string
	LastName    string
	About       string
	Username    string // as the user typed it; its claim is lower case
	NameNonce   int64  // nonce of the claim that backs Username
	PendingName string // an attempt not yet confirmed (NamePending without NameSet)
	PendNonce   int64
	Created     int64 // unix ms
	LastSeen    int64 // unix ms of the last status change (0: never)
	OnlineUntil int64 // unix ms; online while Time < OnlineUntil
}

const recordVersion = 1

func (u *User) encode() []byte {
	e := enc(make([]byte, 0, 96)).u8(recordVersion).i64(u.ID).str(u.Phone).str(u.FirstName).str(u.LastName).
		str(u.About).str(u.Username).i64(u.NameNonce).str(u.PendingName).i64(u.PendNonce).i64(u.Created).
		i64(u.LastSeen).i64(u.OnlineUntil)
	return e
}

func (u *User) decode(d *dec) {
	if d.u8() != recordVersion {
		d.fail()
		return
	}
	u.ID, u.Phone, u.FirstName, u.LastName = d.i64(), d.str(), d.str(), d.str()
	u.About, u.Username, u.NameNonce = d.str(), d.str(), d.i64()
	u.PendingName, u.PendNonce, u.Created = d.str(), d.i64(), d.i64()
	u.LastSeen, u.OnlineUntil = d.i64(), d.i64()
}

// DecodeUser decodes a stored user record.
func DecodeUser(b []byte) (User, error) {
	var u User
	d := &dec{b: b}
	u.decode(d)
	return u, d.end()
}

// Code states.
const (
	codePending  = 0
	codeVerified = 1
	codeUsed     = 2
)

// Code is a login code record.
type Code struct {
	Phone   string
	Hash    string
	Code    string
	Created int64
	Expires int64
	State   byte
	UserID  int64 // the user it signed up (state used)
}

func (c *Code) encode() []byte {
	return enc(nil).u8(recordVersion).str(c.Phone).str(c.Hash).str(c.Code).i64(c.Created).i64(c.Expires).
		u8(c.State).i64(c.UserID)
}

func decodeCode(b []byte) (Code, error) {
	var c Code
	d := &dec{b: b}
	if d.u8() != recordVersion {
		d.fail()
	}
	c.Phone, c.Hash, c.Code, c.Created, c.Expires = d.str(), d.str(), d.str(), d.i64(), d.i64()
	c.State, c.UserID = d.u8(), d.i64()
	return c, d.end()
}

// limiter is the per-phone attempt and send counter.
type limiter struct {
	Fails       int32
	Sends       int32
	WindowStart int64
	LockedUntil int64
}

func (l *limiter) encode() []byte {
	return enc(nil).u8(recordVersion).i32(l.Fails).i32(l.Sends).i64(l.WindowStart).i64(l.LockedUntil)
}

func decodeLimiter(b []byte) (limiter, error) {
	var l limiter
	d := &dec{b: b}
	if d.u8() != recordVersion {
		d.fail()
	}
	l.Fails, l.Sends, l.WindowStart, l.LockedUntil = d.i32(), d.i32(), d.i64(), d.i64()
	return l, d.end()
}

// Auth is one authorization (a signed-in permanent auth key) of a user.
type Auth struct {
	PermKey       int64
	Hash          int64
	APIID         int32
	DeviceModel   string
	Platform      string
	SystemVersion string
	AppVersion    string
	LangCode      string
	IP            string
	Created       int64
	Active        int64
}

func (a *Auth) encode(e enc) enc {
	return e.i64(a.PermKey).i64(a.Hash).i32(a.APIID).str(a.DeviceModel).str(a.Platform).str(a.SystemVersion).
		str(a.AppVersion).str(a.LangCode).str(a.IP).i64(a.Created).i64(a.Active)
}

func (a *Auth) decode(d *dec) {
	a.PermKey, a.Hash, a.APIID = d.i64(), d.i64(), d.i32()
	a.DeviceModel, a.Platform, a.SystemVersion, a.AppVersion = d.str(), d.str(), d.str(), d.str()
	a.LangCode, a.IP, a.Created, a.Active = d.str(), d.str(), d.i64(), d.i64()
}

// Contact is a contact as its owner saved it.
type Contact struct {
	UserID    int64
	FirstName string
	LastName  string
	Phone     string
	Date      int64
}

func (c *Contact) encodeValue() []byte {
	return enc(nil).u8(recordVersion).str(c.FirstName).str(c.LastName).str(c.Phone).i64(c.Date)
}

func decodeContactValue(uid int64, b []byte) (Contact, error) {
	c := Contact{UserID: uid}
	d := &dec{b: b}
	if d.u8() != recordVersion {
		d.fail()
	}
	c.FirstName, c.LastName, c.Phone, c.Date = d.str(), d.str(), d.str(), d.i64()
	return c, d.end()
}

// claim is the owner of a username.
type claim struct {
	UserID int64
	Nonce  int64
}

func (c claim) encode() []byte { return enc(nil).u8(recordVersion).i64(c.UserID).i64(c.Nonce) }

func decodeClaim(b []byte) (claim, error) {
	d := &dec{b: b}
	if d.u8() != recordVersion {
		d.fail()
	}
	c := claim{UserID: d.i64(), Nonce: d.i64()}
	return c, d.end()
}
