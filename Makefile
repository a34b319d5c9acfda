# crun-lite: what CI runs is `make test` (see .ci/run).
#
#   make build            bin/crun-lite
#   make test             setup (as root) + unit + integration tests as the test user
#   make test-unit        go test ./... (as the test user when run as root)
#   make test-integration the integration suite against bin/crun-lite
#   make bench            side-by-side benchmarks (see bench/README.md)
#   make docs             regenerate man/ and completions/ from the CLI
#   make lint             gofmt, go vet
#   make install          binary, man pages, completions under $(PREFIX)
#   make demo             the offline demo (as root on a fresh machine)

GO       ?= go
PREFIX   ?= /usr/local
DESTDIR  ?=
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

# No C -dev packages needed: pure-Go OpenPGP, no btrfs/zfs drivers, no
# docker-daemon transport (it would drag in the Docker client).
TAGS     := containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_zfs containers_image_docker_daemon_stub
GOFLAGS_ := -tags "$(TAGS)" -trimpath
LDFLAGS  := -s -w -X main.version=$(VERSION)

TESTDATA ?= /var/cache/crun-lite-test
# The test user reads modules from here: root's own cache sits in /root (0700).
GOMODCACHE_SHARED ?= $(TESTDATA)/gomod
AS_USER  := GOMODCACHE_SHARED=$(GOMODCACHE_SHARED) hack/as-test-user.sh
IS_ROOT  := $(shell [ "$$(id -u)" = 0 ] && echo yes)
BIN      := $(CURDIR)/bin/crun-lite
INTEGRATION_TIMEOUT ?= 18m

.PHONY: all build test test-setup test-unit test-integration bench docs lint install demo clean

all: build

# Built under a temporary name and renamed: the user-namespace holder keeps
# the old binary busy, and writing over a busy executable fails (ETXTBSY).
build:
	@mkdir -p bin
	$(GO) build $(GOFLAGS_) -ldflags "$(LDFLAGS)" -o bin/.crun-lite.tmp ./cmd/crun-lite
	@mv -f bin/.crun-lite.tmp bin/crun-lite

test: test-setup lint build test-unit test-integration

test-setup:
ifeq ($(IS_ROOT),yes)
	hack/test-setup.sh
	@install -d -m 0755 $(GOMODCACHE_SHARED)
	GOMODCACHE=$(GOMODCACHE_SHARED) $(GO) mod download
	@chmod -R a+rX $(GOMODCACHE_SHARED)
else
	@echo "test-setup: not root: skipping packages, test user and images (run 'sudo make test-setup' once)"
endif

test-unit:
ifeq ($(IS_ROOT),yes)
	$(AS_USER) $(GO) test $(GOFLAGS_) -count=1 ./...
else
	$(GO) test $(GOFLAGS_) -count=1 ./...
endif

# -v: a skipped suite must show as skipped in CI logs, not as a bare "ok".
test-integration: build
ifeq ($(IS_ROOT),yes)
	$(AS_USER) env CRUNLITE_BIN=$(BIN) CRUNLITE_TESTDATA=$(TESTDATA) \
		$(GO) test $(GOFLAGS_) -tags "$(TAGS) integration" -count=1 -v -timeout $(INTEGRATION_TIMEOUT) ./test/integration/
else
	@if [ -f $(TESTDATA)/env ]; then \
		CRUNLITE_BIN=$(BIN) CRUNLITE_TESTDATA=$(TESTDATA) \
		$(GO) test $(GOFLAGS_) -tags "$(TAGS) integration" -count=1 -v -timeout $(INTEGRATION_TIMEOUT) ./test/integration/; \
	else \
		echo "test-integration: skipped: no test images in $(TESTDATA) (run 'sudo make test-setup' once)"; \
	fi
endif

bench: build
	bench/run.sh $(BIN)

docs: build
	$(GO) run $(GOFLAGS_) ./cmd/crun-lite/gendocs -man man -completions completions

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(GOFLAGS_) ./...
	$(GO) vet $(GOFLAGS_) -tags "$(TAGS) integration" ./test/integration/

install: build
	install -D -m 0755 bin/crun-lite $(DESTDIR)$(PREFIX)/bin/crun-lite

demo: build
	hack/demo.sh

clean:
	rm -rf bin
