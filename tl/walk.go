package tl

import (
	"errors"
	"reflect"
)

// ErrWalkTooDeep: Walk met values nested deeper than the decoder's limit allows.
var ErrWalkTooDeep = errors.New("tl: value nested too deep to walk")

// Walk calls f for o and every object nested in it, depth first, stopping at the first error f returns. It
// uses reflection: it is meant for checks on values about to be sent (see api.CheckLayer), not for hot loops.
func Walk(o Object, f func(Object) error) error {
	if o == nil {
		return nil
	}
	return walkValue(reflect.ValueOf(o), f, 0)
}

func walkValue(v reflect.Value, f func(Object) error, depth int) error {
	if depth > 4*DefaultMaxDepth {
		return ErrWalkTooDeep
	}
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return walkValue(v.Elem(), f, depth+1)
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		if v.Type().Implements(objectType) {
			if err := f(v.Interface().(Object)); err != nil {
				return err
			}
			if v.Elem().Kind() == reflect.Struct {
				return walkFields(v.Elem(), f, depth+1)
			}
			return nil
		}
		return walkValue(v.Elem(), f, depth+1)
	case reflect.Struct:
		if v.CanAddr() && v.Addr().Type().Implements(objectType) {
			// A struct held by value (mt.Message in a container): visit it as an object.
			if err := f(v.Addr().Interface().(Object)); err != nil {
				return err
			}
		}
		return walkFields(v, f, depth+1)
	case reflect.Slice:
		k := v.Type().Elem().Kind()
		if k != reflect.Interface && k != reflect.Pointer && k != reflect.Struct && k != reflect.Slice {
			return nil
		}
		for i := 0; i < v.Len(); i++ {
			if err := walkValue(v.Index(i), f, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func walkFields(v reflect.Value, f func(Object) error, depth int) error {
	for i := 0; i < v.NumField(); i++ {
		if !v.Type().Field(i).IsExported() {
			continue
		}
		if err := walkValue(v.Field(i), f, depth+1); err != nil {
			return err
		}
	}
	return nil
}
