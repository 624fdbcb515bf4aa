package crosscheck

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/gotd/td/bin"
	gmt "github.com/gotd/td/mt"
	"github.com/gotd/td/tg"

	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
	"github.com/raftgram/raftgram/tl/mt"
)

var registry = tl.NewRegistry(mt.New, api.New).WithLegacy(api.IsLegacy)

// filler builds random gotd values by reflection: every field gets a random value (optional ones are often
// left zero, which gotd treats as absent), interfaces get a random implementation.
type filler struct {
	rnd   *rand.Rand
	impls map[reflect.Type][]func() bin.Object
	ids   []uint32
	ctors map[uint32]func() bin.Object
}

func newFiller(seed uint64, ctors map[uint32]func() bin.Object) *filler {
	f := &filler{rnd: rand.New(rand.NewPCG(seed, 1)), impls: map[reflect.Type][]func() bin.Object{}}
	ids := make([]uint32, 0, len(ctors))
	for id := range ctors {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	f.ids = ids
	f.ctors = ctors
	return f
}

func (f *filler) implsOf(it reflect.Type) []func() bin.Object {
	if v, ok := f.impls[it]; ok {
		return v
	}
	var out []func() bin.Object
	for _, id := range f.ids {
		c := f.ctors[id]
		o := c()
		if reflect.TypeOf(o).Implements(it) && !skipID[id] {
			out = append(out, c)
		}
	}
	// Simplest first, so deep levels can pick a leaf.
	sort.SliceStable(out, func(i, j int) bool {
		return reflect.TypeOf(out[i]()).Elem().NumField() < reflect.TypeOf(out[j]()).Elem().NumField()
	})
	f.impls[it] = out
	return out
}

// skipID lists ids left out of the random check:
//   - gotd's pseudo types for the service layer's manual combinators (checked separately with gotd's proto);
//   - gotd-only entries from its _schema/legacy.tl (pseudo ids of int/long/..., *Legacy file locations, test.*),
//     which are not in the layer-227 schema;
//   - the DNS "simple config" blob (accessPointRule, help.configSimple): gotd writes the elements of
//     `ips:vector<IpPort>` bare although IpPort has two constructors; servers never send this blob.
var skipID = map[uint32]bool{
	gmt.RPCResultTypeID: true, gmt.MessageTypeID: true, gmt.MsgContainerTypeID: true, gmt.GzipPackedTypeID: true,
	gmt.MsgCopyTypeID: true,
	0x0dbaeae9:        true, 0x22076cba: true, 0x2210c154: true, 0x27d69997: true, 0xa8509bda: true, 0xb5286e24: true,
	0xe937bb82: true, 0xee75af01: true, 0xf9b7b23d: true,
	0x4679b65f: true, 0x5a592a6c: true, // accessPointRule, help.configSimple
}

var binObject = reflect.TypeFor[bin.Object]()

func (f *filler) fill(v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(f.rnd.IntN(2) == 0)
	case reflect.Int:
		v.SetInt(int64(f.smallOrBig32()))
	case reflect.Int32:
		v.SetInt(int64(f.smallOrBig32()))
	case reflect.Int64:
		v.SetInt(int64(f.rnd.Uint64()))
	case reflect.Uint32:
		// bin.Fields: leave zero, gotd's SetFlags computes it.
	case reflect.Float64:
		v.SetFloat(f.rnd.NormFloat64() * 1000)
	case reflect.String:
		v.SetString(f.str())
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			v.Index(i).SetUint(uint64(f.rnd.IntN(256)))
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, f.length())
			for i := range b {
				b[i] = byte(f.rnd.IntN(256))
			}
			v.SetBytes(b)
			return
		}
		n := f.rnd.IntN(4)
		if depth > 3 {
			n = 0
		}
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := 0; i < n; i++ {
			f.fill(s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			fv := v.Field(i)
			if !v.Type().Field(i).IsExported() {
				continue
			}
			// Optional-looking fields are left zero half the time at depth, always filled at the top.
			if depth > 0 && f.rnd.IntN(3) == 0 && fv.Kind() != reflect.Interface {
				continue
			}
			f.fill(fv, depth+1)
		}
	case reflect.Interface:
		var impls []func() bin.Object
		if v.Type() == binObject {
			impls = []func() bin.Object{func() bin.Object { return &tg.HelpGetConfigRequest{} }}
		} else {
			impls = f.implsOf(v.Type())
		}
		if len(impls) == 0 {
			return
		}
		c := impls[0]
		if depth < 4 {
			c = impls[f.rnd.IntN(len(impls))]
		}
		o := c()
		f.fill(reflect.ValueOf(o).Elem(), depth+1)
		v.Set(reflect.ValueOf(o))
	case reflect.Pointer:
		if depth < 4 {
			p := reflect.New(v.Type().Elem())
			f.fill(p.Elem(), depth+1)
			v.Set(p)
		}
	}
}

func (f *filler) smallOrBig32() int32 {
	if f.rnd.IntN(2) == 0 {
		return int32(f.rnd.IntN(100))
	}
	return int32(f.rnd.Uint32())
}

func (f *filler) length() int {
	switch f.rnd.IntN(6) {
	case 0:
		return 0
	case 1:
		return 250 + f.rnd.IntN(10) // around the long-form boundary
	default:
		return f.rnd.IntN(20)
	}
}

func (f *filler) str() string {
	n := f.length()
	var b strings.Builder
	for range n {
		b.WriteByte(byte('a' + f.rnd.IntN(26)))
	}
	return b.String()
}

// crossCheck encodes a gotd value, decodes it with ours, re-encodes and compares; then decodes our bytes
// with gotd and compares again.
func crossCheck(t *testing.T, name string, g bin.Object, fresh func() bin.Object) bool {
	t.Helper()
	var gb bin.Buffer
	if err := g.Encode(&gb); err != nil {
		// gotd refuses nil required fields the random filler left (pageCaption.text...): not a sample.
		return true
	}
	want := append([]byte(nil), gb.Buf...)
	ours, err := tl.DecodeObject(want, registry)
	if err != nil {
		t.Errorf("%s: our decode of gotd bytes: %v\n% x", name, err, head(want))
		return false
	}
	if s, ok := ours.(fmt.Stringer); !ok || s.String() == "" {
		t.Errorf("%s: no String", name)
	}
	got, err := tl.Marshal(ours)
	if err != nil {
		t.Errorf("%s: our encode: %v", name, err)
		return false
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: our re-encoding differs\n gotd % x\n ours % x\n value %v", name, head(want), head(got), ours)
		return false
	}
	back := fresh()
	// gotd decodes a wrapper's query into the value already in Query.
	if q := reflect.ValueOf(back).Elem().FieldByName("Query"); q.IsValid() && q.Type() == binObject && q.IsNil() {
		q.Set(reflect.ValueOf(&tg.HelpGetConfigRequest{}))
	}
	if err := back.Decode(&bin.Buffer{Buf: got}); err != nil {
		t.Errorf("%s: gotd decode of our bytes: %v", name, err)
		return false
	}
	var gb2 bin.Buffer
	if err := back.Encode(&gb2); err != nil || !bytes.Equal(gb2.Buf, got) {
		t.Errorf("%s: gotd re-encoding of our bytes differs (%v)", name, err)
		return false
	}
	return true
}

func head(b []byte) []byte {
	if len(b) > 96 {
		return b[:96]
	}
	return b
}

// TestEveryConstructorAgainstGotd fills every constructor and method gotd knows (api layer 227 and the
// service layer) with random values and cross-checks the bytes both ways.
func TestEveryConstructorAgainstGotd(t *testing.T) {
	samples := 6
	if testing.Short() {
		samples = 2
	}
	for _, set := range []struct {
		name  string
		ctors map[uint32]func() bin.Object
	}{{"tg", tg.TypesConstructorMap()}, {"mt", gmt.TypesConstructorMap()}} {
		f := newFiller(227, set.ctors)
		var unknown []string
		checked, failed := 0, 0
		for _, id := range f.ids {
			if skipID[id] {
				continue
			}
			if registry.New(id) == nil {
				unknown = append(unknown, fmt.Sprintf("%08x %T", id, set.ctors[id]()))
				continue
			}
			for s := range samples {
				o := set.ctors[id]()
				f.fill(reflect.ValueOf(o).Elem(), 0)
				checked++
				if !crossCheck(t, fmt.Sprintf("%T#%d", o, s), o, set.ctors[id]) {
					failed++
					break
				}
			}
			if failed > 20 {
				t.Fatal("too many failures")
			}
		}
		t.Logf("%s: %d values cross-checked over %d ids; ids gotd has and we do not: %d %v",
			set.name, checked, len(f.ids), len(unknown), unknown)
		if len(unknown) > 0 {
			t.Errorf("%s: gotd knows ids we do not: %v", set.name, unknown)
		}
	}
}
