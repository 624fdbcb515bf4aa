# raftgram — see README.md. `make run` starts a dev node, `make test` runs the tests CI runs.
GO        ?= go
TLSCHEMA  ?= ../shared/tl
STATICCHECK_VERSION ?= v0.8.2
GOBIN     := $(shell $(GO) env GOPATH)/bin
FUZZTIME  ?= 10m

.PHONY: run build test unit lint tools generate check-generated bench fuzz bench-cluster jepsen bench-messages test-clients

build:
	$(GO) build -o bin/raftgram ./cmd/raftgram

# Single node, embedded storage, 127.0.0.1, dev login code on.
run: build
	./bin/raftgram run --dev

tools:
	@command -v $(GOBIN)/staticcheck >/dev/null 2>&1 || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: tools
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1)
	$(GO) vet ./...
	$(GOBIN)/staticcheck ./...

generate:
	$(GO) generate ./tl/...

# Regenerating must leave no diff: generated code is committed.
check-generated: generate
	git diff --exit-code -- tl/

unit:
	$(GO) test -race -count=1 -timeout 14m ./...

test: lint check-generated unit

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./tl/... ./gateway/... ./fsm/... ./shard/...

fuzz:
	./scripts/fuzz-all.sh $(FUZZTIME)

# 3 raftgram processes on loopback vs a 3-member etcd (when etcd-server is installed); see the script's header.
bench-cluster:
	./scripts/bench-cluster.sh

# Jepsen-style fault injection against 3 real processes (see jepsen/README.md); JEPSEN_FLAGS=-duration 5m ...
JEPSEN_FLAGS ?= -duration 5m
jepsen:
	$(GO) run ./jepsen $(JEPSEN_FLAGS)

# Acknowledged sendMessage/s and send-to-push latency over MTProto on a 3-node loopback cluster (fsync on).
BENCHMSG_FLAGS ?= -pairs 10,100 -duration 20s
bench-messages:
	$(GO) run ./cmd/benchmsg $(BENCHMSG_FLAGS)

# Every client library of node/e2e/clients, the old gotd versions (layers 223, 170) included: their first build
# compiles two more gotd trees (minutes of CPU), which is why make test runs only the npm clients and gotd v0.160.
test-clients:
	RAFTGRAM_CLIENTS=all $(GO) test -count=1 -timeout 20m -run TestClients -v ./node/e2e/clients/
