# proxbox: one static binary. CGO stays off everywhere: go-netbox is huge and
# would compile twice (once per cgo setting) otherwise.
export CGO_ENABLED := 0
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
PORT    ?= 8000
# Packages that do not import go-netbox: the race detector (which needs cgo)
# runs on these only, so go-netbox is never compiled a second time.
RACE_PKGS ?= ./config/ ./store/ ./applog/ ./netbox/getcache/ ./metrics/ ./proxmox/ ./lab/pve/ ./certs/

.PHONY: all build test test-race test-real bench-real lint bench demo run docker clean generate

all: build

build: generate
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/proxbox ./cmd/proxbox

# Templ components are generated into committed *_templ.go files.
generate:
	@if ls ui/*.templ >/dev/null 2>&1; then $(GO) tool templ generate -path ui >/dev/null; fi

# Unit and integration tests: what CI runs.
test: build
	$(GO) test -count=1 -timeout 20m ./...
	$(MAKE) test-race

test-race:
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 10m $(RACE_PKGS)

# The NetBox integration suite against a real NetBox 4.5.10 + netbox-proxbox 0.0.24 from the
# realnetbox kit (REALNETBOX_KIT, default ../shared/realnetbox): started, reset between tests,
# stopped. Skips with one line where the kit cannot start; fails when it is there and broken.
test-real:
	./.ci/test-real.sh

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	@if ls ui/*.templ >/dev/null 2>&1; then \
		$(GO) tool templ generate -path ui >/dev/null && git diff --exit-code -- ui || { echo "templ output is stale: run 'make generate' and commit"; exit 1; }; \
	fi

# Sync at 1,000 and 10,000 generated guests (NetBox with 2 ms latency): wall
# time, NetBox requests and writes for the first run, a steady run and one
# change, Proxmox requests per guest, peak RSS. One size per process, so the
# RSS is that size's. Then the backup-heavy lab and the micro benchmarks.
bench:
	$(GO) test -run '^$$' -bench 'BenchmarkSync$$/guests=1000$$' -benchtime 1x -timeout 30m ./sync/nbadapter/
	$(GO) test -run '^$$' -bench 'BenchmarkSync$$/guests=10000$$' -benchtime 1x -timeout 30m ./sync/nbadapter/
	$(GO) test -run '^$$' -bench 'BenchmarkSyncBackups10k' -benchtime 1x -timeout 30m ./sync/nbadapter/
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./netbox/ ./netbox/getcache/ ./proxmox/ ./lab/...

# The appliance with its embedded lab: HTTPS on a local CA, simulated
# Proxmox and NetBox, a first sync started. Data lives in ./data.
demo: build
	PORT=$(PORT) ./bin/proxbox demo

# The appliance alone, plain HTTP, data in ./data.
run: build
	PROXBOX_TLS=off PORT=$(PORT) ./bin/proxbox serve

docker:
	@command -v docker >/dev/null && docker info >/dev/null 2>&1 || { echo "no Docker engine here: 'make build' gives the same static binary"; exit 1; }
	docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t proxbox:$(VERSION) .

clean:
	rm -rf bin
