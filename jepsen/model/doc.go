// Package model holds the sequential specifications the checkers compare histories against: a key-value
// register with put, get and compare-and-set as a porcupine model, partitioned by key.
//
// It must never touch the network, the history format or the clock: a model is a pure function of its inputs.
package model
