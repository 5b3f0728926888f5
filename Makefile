# Foreman — the two first commands are `make demo` and `make test`.
GO      ?= go
BIN     := bin
DATA    ?= ./foreman-data
SYNC    ?= interval
LISTEN  ?= 127.0.0.1:4222

.PHONY: build demo engine test test-cluster lint bench clean

build:
	$(GO) build -o $(BIN)/foreman-engine ./cmd/engine
	$(GO) build -o $(BIN)/foreman ./cmd/console

## demo: the engine (embedded NATS, example workers, a live demo load) and the console; quitting the console stops the engine.
demo: build
	BIN=$(BIN) DATA=$(DATA) SYNC=$(SYNC) LISTEN=$(LISTEN) ./scripts/demo.sh

## engine: the demo engine alone, in the foreground (run `bin/foreman` in a second terminal).
engine: build
	$(BIN)/foreman-engine --demo --data $(DATA) --sync $(SYNC) --listen $(LISTEN)

## test: vet, then every test with the race detector (real embedded JetStream, real processes).
test:
	$(GO) vet ./...
	$(GO) test -race -timeout 20m ./...
	$(GO) test -run='^$$' -fuzz=FuzzDecodeBatch -fuzztime=10s ./engine
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=10s ./visibility/query
	$(GO) test -run='^$$' -fuzz=FuzzPayloadText -fuzztime=10s ./visibility
	$(GO) test -run='^$$' -fuzz=FuzzASCIIAnalyzer -fuzztime=10s ./visibility

## test-cluster: the in-process 3-node cluster tests (node loss under load, several engines); make test skips the node-loss ones, .ci/run runs both.
test-cluster:
	FOREMAN_CLUSTER_LOSS=1 $(GO) test -race -timeout 10m -run 'Cluster' -v ./jetstream

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## bench: prints a table and writes bench/out/results.json (both --sync modes; the
## deployed shape against bin/foreman-engine, then the in-process shape, then the cluster
## shape: an in-process 3-node cluster with 1 and 3 shards).
bench:
	mkdir -p bench/out
	$(GO) build -o $(BIN)/foreman-engine ./cmd/engine
	$(GO) run ./bench -engine-bin $(BIN)/foreman-engine -cpuprofile bench/out/cpu.prof

clean:
	rm -rf $(BIN) bench/out
