# proxbox: one static binary. CGO stays off everywhere: go-netbox is huge and
# would compile twice (once per cgo setting) otherwise.
export CGO_ENABLED := 0
GO      ?= go
# The semver tag on HEAD, else v0.0.0-dev+<commit> (deploy/release.sh).
VERSION ?= $(shell ./deploy/release.sh version 2>/dev/null || echo v0.0.0-dev)
COMMIT  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
PORT    ?= 8000
# Packages that do not link go-netbox (only cmd/proxbox, netbox/nbapi and
# lab/netbox/decodecheck do): the race detector (which needs cgo) runs on
# these only, so go-netbox is never compiled a second time.
RACE_PKGS ?= ./config/ ./egress/ ./store/ ./applog/ ./netbox/getcache/ ./metrics/ ./proxmox/ ./lab/pve/ ./certs/

.PHONY: all build test test-tools test-race test-real bench-real lint bench bench-large bench-pprof demo run docker release release-check clean generate

all: build

build: generate
	$(GO) build -trimpath -buildvcs=false -ldflags '$(LDFLAGS)' -o bin/proxbox ./cmd/proxbox

# Templ components are generated into committed *_templ.go files.
generate:
	@if ls ui/*.templ >/dev/null 2>&1; then $(GO) tool templ generate -path ui >/dev/null; fi

# Unit and integration tests: what CI runs. Tools beyond Go that some tests
# need are checked first, and a missing one is said in a line starting with
# NOTE (the tests that need it skip, with the reason under go test -v);
# .ci/run installs them all.
test: build test-tools
	$(GO) test -count=1 -timeout 20m ./...
	$(MAKE) test-race

test-tools:
	@command -v gcc >/dev/null 2>&1 || echo "NOTE: gcc not found: the race detector tests (make test-race) are skipped. Install gcc and libc6-dev to run them."
	@test -x /usr/bin/chromium || echo "NOTE: /usr/bin/chromium not found: the browser tests (cmd/proxbox TestBrowserOnDemo, ui TestBrowser*) skip. Install chromium to run them."
	@command -v systemd-analyze >/dev/null 2>&1 || echo "NOTE: systemd-analyze not found: the systemd unit checks (deploy TestUnitVerifies, TestUnitSecurityExposure) skip. Install systemd to run them."

test-race:
	@if command -v gcc >/dev/null 2>&1; then \
		echo "CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 10m $(RACE_PKGS)"; \
		CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 10m $(RACE_PKGS); \
	else \
		echo "SKIP test-race: the race detector needs cgo, and gcc is not installed (apt-get install gcc libc6-dev)"; \
	fi

# The NetBox integration suite against a real NetBox 4.5.10 + netbox-proxbox 0.0.24 from the
# realnetbox kit (REALNETBOX_KIT, default ../shared/realnetbox): started, reset between tests,
# stopped. Skips with one line where the kit cannot start; fails when it is there and broken.
test-real:
	./.ci/test-real.sh

# proxbox sync --once, first, second and one-change run, real NetBox kit vs lab/netbox on every
# endpoint of one generated Proxmox lab (BENCH_GUESTS, default 60; BENCH_ENDPOINTS=first for the
# first endpoint only): a markdown table for docs/sync.md.
bench-real:
	./.ci/bench-real.sh

lint:
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod/go.sum are not tidy: run 'go mod tidy' and commit"; $(GO) mod tidy -diff; exit 1; }
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	@if ls ui/*.templ >/dev/null 2>&1; then \
		$(GO) tool templ generate -path ui >/dev/null && git diff --exit-code -- ui || { echo "templ output is stale: run 'make generate' and commit"; exit 1; }; \
	fi

# The sync at scale with lab and sync in separate processes (cmd/proxbox-bench):
# `proxbox lab --scale N` (NetBox with 2 ms latency) in one process, and
# `proxbox sync --once --data-dir` run three times (first run, steady run, one
# memory change) against the endpoints registered in a fresh store, as an
# operator runs it, then `proxbox sync --watch` (full syncs, one change: the
# memory the watch keeps): wall time, CPU of the sync and of the lab separately,
# NetBox requests and writes, refusals, Proxmox requests, peak RSS of each,
# one markdown table (docs/sync.md, "Request counts"). BENCH_SCALES sets the
# sizes (default 1,000 and 10,000). Then the in-process benchmarks: the
# backup-heavy lab, the watch at 1,000 guests and the micro benchmarks.
BENCH_SCALES ?= 1000,10000
bench: build
	$(GO) run ./cmd/proxbox-bench --proxbox bin/proxbox --scale $(BENCH_SCALES) --watch
	$(GO) test -run '^$$' -bench 'BenchmarkSyncBackups10k' -benchtime 1x -timeout 30m ./sync/nbadapter/
	$(GO) test -run '^$$' -bench 'BenchmarkWatch1000' -benchtime 1x -timeout 30m ./watch/
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./netbox/ ./netbox/getcache/ ./proxmox/ ./lab/...

# The same at 100,000 guests: long-running (about 12 minutes on 2
# cores; the lab alone holds about 10 GiB), with a fourth, steady run under
# GOMEMLIMIT=1800MiB (Go's soft memory limit) to show its effect on the RSS,
# then the watch.
bench-large: build
	$(GO) run ./cmd/proxbox-bench --proxbox bin/proxbox --scale 100000 --extra-steady-env GOMEMLIMIT=1800MiB --watch

# The same as make bench's table with CPU and heap profiles of the lab and of
# every sync process in bench-pprof/ (a binary built with -tags pprof: never
# a release; cmd/proxbox/pprof.go). Read them with go tool pprof bin/proxbox-pprof FILE.
bench-pprof: generate
	$(GO) build -tags pprof -trimpath -o bin/proxbox-pprof ./cmd/proxbox
	$(GO) run ./cmd/proxbox-bench --proxbox bin/proxbox-pprof --pprof bench-pprof --scale $(BENCH_SCALES)

# The appliance with its embedded lab: HTTPS on a local CA, simulated
# Proxmox and NetBox, a first sync started. Data lives in ./data.
demo: build
	PORT=$(PORT) ./bin/proxbox demo

# The appliance alone, plain HTTP, data in ./data.
run: build
	PROXBOX_TLS=off PORT=$(PORT) ./bin/proxbox serve

# Release: static binaries for linux/amd64 and linux/arm64 in dist/ with an
# SBOM each and SHA256SUMS; the version is the semver tag on HEAD, else
# v0.0.0-dev+<commit> (deploy/release.sh says how and why it is reproducible).
release: generate
	./deploy/release.sh

# Reproducibility: build the release again from a copy of the committed tree in
# another directory, and compare the bytes (SHA256SUMS). Run on a clean tree.
release-check: release
	@d=$$(mktemp -d); trap 'rm -rf "$$d"' EXIT; \
	git archive HEAD | tar -x -C "$$d" && \
	RELEASE_VERSION=$$(cat dist/VERSION) RELEASE_COMMIT=$$(git rev-parse --short=12 HEAD) DIST="$$d/dist" "$$d/deploy/release.sh" >/dev/null && \
	if diff dist/SHA256SUMS "$$d/dist/SHA256SUMS"; then echo "release-check: same bytes twice (built in $(CURDIR) and $$d)"; \
	else echo "release-check: the release is not reproducible"; exit 1; fi

# The container image, built from the release binary (no compiler in the image
# build): the image's binary is the one in dist/SHA256SUMS.
docker: release
	@command -v docker >/dev/null && docker info >/dev/null 2>&1 || { echo "no Docker engine here: dist/ holds the release binaries the image would carry"; exit 1; }
	docker buildx build --platform linux/amd64,linux/arm64 \
		--build-arg VERSION=$$(cat dist/VERSION) --build-arg COMMIT=$(COMMIT) \
		--build-arg CREATED=$$(git log -1 --format=%cI 2>/dev/null || echo 1970-01-01T00:00:00Z) \
		-t proxbox:$$(cat dist/VERSION | tr + -) .

clean:
	rm -rf bin dist
