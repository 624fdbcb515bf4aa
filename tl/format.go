package tl

import (
	"encoding/hex"
	"reflect"
	"strconv"
	"strings"
)

// Format renders o compactly for logs: name{Field:value ...}, omitting zero fields, abbreviating bytes,
// long strings and long vectors. It uses reflection: it is for logs and tests, never on the wire path, and
// keeps generated code from repeating a printer per type.
func Format(o Object) string {
	var b strings.Builder
	formatValue(&b, reflect.ValueOf(o), 0)
	return b.String()
}

const (
	formatMaxDepth  = 8
	formatMaxItems  = 8
	formatMaxString = 64
	formatMaxLen    = 4096
)

var objectType = reflect.TypeFor[Object]()

func formatValue(b *strings.Builder, v reflect.Value, depth int) {
	if b.Len() > formatMaxLen {
		return
	}
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		formatValue(b, v.Elem(), depth)
		return
	case reflect.Pointer:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		if v.Type().Implements(objectType) && v.Elem().Kind() == reflect.Struct {
			formatObject(b, v, depth)
			return
		}
		formatValue(b, v.Elem(), depth)
		return
	case reflect.String:
		s := v.String()
		if len(s) > formatMaxString {
			s = s[:formatMaxString] + "…"
		}
		b.WriteString(strconv.Quote(s))
	case reflect.Bool:
		b.WriteString(strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		b.WriteString(strconv.FormatInt(v.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		b.WriteString(strconv.FormatUint(v.Uint(), 10))
	case reflect.Float32, reflect.Float64:
		b.WriteString(strconv.FormatFloat(v.Float(), 'g', -1, 64))
	case reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			buf := make([]byte, v.Len())
			reflect.Copy(reflect.ValueOf(buf), v)
			b.WriteString(hex.EncodeToString(buf))
			return
		}
		b.WriteString(v.Type().String())
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b.WriteString("[" + strconv.Itoa(v.Len()) + " bytes]")
			return
		}
		if depth >= formatMaxDepth {
			b.WriteString("[…]")
			return
		}
		b.WriteByte('[')
		for i := 0; i < v.Len() && i < formatMaxItems; i++ {
			if i > 0 {
				b.WriteByte(' ')
			}
			formatValue(b, v.Index(i), depth+1)
		}
		if v.Len() > formatMaxItems {
			b.WriteString(" …+" + strconv.Itoa(v.Len()-formatMaxItems))
		}
		b.WriteByte(']')
	default:
		b.WriteString(v.Type().String())
	}
}

func formatObject(b *strings.Builder, v reflect.Value, depth int) {
	b.WriteString(v.Interface().(Object).TypeName())
	if depth >= formatMaxDepth {
		b.WriteString("{…}")
		return
	}
	s := v.Elem()
	t := s.Type()
	b.WriteByte('{')
	first := true
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		fv := s.Field(i)
		if !f.IsExported() || fv.IsZero() {
			continue
		}
		if !first {
			b.WriteByte(' ')
		}
		first = false
		b.WriteString(f.Name)
		b.WriteByte(':')
		formatValue(b, fv, depth+1)
	}
	b.WriteByte('}')
}
