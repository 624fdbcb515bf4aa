package account

import (
	"bytes"
	"testing"
)

// FuzzDecodeOp: any payload decodes or is rejected without a panic, and what decodes re-encodes to the same
// op (encode -> decode -> encode is stable).
func FuzzDecodeOp(f *testing.F) {
	for _, o := range []Op{SendCode{Phone: "1", Hash: "h", Code: "1", TTL: 5}, SignUp{Phone: "1", FirstName: "A"},
		UpdateProfile{UserID: 5, About: new(string)}, ContactAdd{Owner: 1, Contact: Contact{UserID: 2, FirstName: "x"}},
		AddAuth{UserID: 1, Auth: Auth{PermKey: 2, DeviceModel: "d"}}} {
		f.Add(Payload(o))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		o, err := decodeOp(p)
		if err != nil {
			return
		}
		b := Payload(o)
		o2, err := decodeOp(b)
		if err != nil {
			t.Fatalf("re-encoded %x does not decode: %v", b, err)
		}
		if got := Payload(o2); !bytes.Equal(got, b) {
			t.Fatalf("unstable: %x then %x", b, got)
		}
	})
}

func TestContactsHashOrderIndependent(t *testing.T) {
	if ContactsHash([]int64{3, 1, 2}) != ContactsHash([]int64{1, 2, 3}) || ContactsHash(nil) != 0 ||
		ContactsHash([]int64{1, 2}) == ContactsHash([]int64{1, 3}) {
		t.Fatal("ContactsHash")
	}
}
