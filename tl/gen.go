package tl

// The generated packages tl/mt and tl/api and the report tl/layers/REPORT.md come from the public schema
// files in ../shared/tl (relative to the repository root). `make generate` runs this; `make
// check-generated` proves the committed output is current.
//go:generate go run ./cmd/tlgen -schema ../../shared/tl -out .
