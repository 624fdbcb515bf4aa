package model

import (
	"testing"

	"github.com/anishathalye/porcupine"
)

func op(client int, call, ret int64, in Input, out Output) porcupine.Operation {
	return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
}

func TestRegisterLinearizable(t *testing.T) {
	h := []porcupine.Operation{
		op(0, 0, 10, Input{Op: Put, Key: "x", Value: "1"}, Output{}),
		op(1, 5, 15, Input{Op: Get, Key: "x"}, Output{Absent: true}), // concurrent with the put
		op(1, 20, 30, Input{Op: CAS, Key: "x", Expect: "1", Value: "2"}, Output{}),
		op(2, 31, 40, Input{Op: CAS, Key: "x", Absent: true, Value: "3"}, Output{Mismatch: true}),
		op(0, 41, 1<<62, Input{Op: Put, Key: "x", Value: "4"}, Output{Unknown: true}),
		op(2, 50, 60, Input{Op: Get, Key: "x"}, Output{Value: "2"}), // the unknown put has not happened (yet)
		op(2, 70, 80, Input{Op: Get, Key: "x"}, Output{Value: "4"}), // now it has
		op(3, 0, 5, Input{Op: Get, Key: "y"}, Output{Absent: true}),
	}
	if res := porcupine.CheckOperations(Register(), h); !res {
		t.Fatal("valid history judged not linearizable")
	}
}

func TestRegisterStaleReadCaught(t *testing.T) {
	h := []porcupine.Operation{
		op(0, 0, 10, Input{Op: Put, Key: "x", Value: "1"}, Output{}),
		op(0, 11, 20, Input{Op: Put, Key: "x", Value: "2"}, Output{}),
		op(1, 21, 30, Input{Op: Get, Key: "x"}, Output{Value: "1"}), // stale
	}
	if porcupine.CheckOperations(Register(), h) {
		t.Fatal("stale read judged linearizable")
	}
}

func TestRegisterDoubleClaimCaught(t *testing.T) {
	h := []porcupine.Operation{
		op(0, 0, 10, Input{Op: CAS, Key: "u", Absent: true, Value: "a"}, Output{}),
		op(1, 0, 10, Input{Op: CAS, Key: "u", Absent: true, Value: "b"}, Output{}),
	}
	if porcupine.CheckOperations(Register(), h) {
		t.Fatal("two winners of a claim judged linearizable")
	}
}
