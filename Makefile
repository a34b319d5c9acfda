# crun-lite: what CI runs is `make test` (see .ci/run).
#
#   make build            bin/crun-lite
#   make test             setup (as root) + unit + integration tests as the test user
#   make test-unit        go test ./... (as the test user when run as root, in a copy
#                         under $(TESTDATA)/src if it cannot read this tree)
#   make test-integration the integration suite against bin/crun-lite (RUN=REGEXP: some tests)
#   make test-root        the integration suite again as real root (root only)
#   make test-faults      inject host faults as root, check doctor and run name them (root only)
#   make bench            side-by-side benchmarks, as root (QUICK=1, GROUPS=run,pull; see bench/README.md)
#   make docs             regenerate man/ and completions/ from the CLI (commit them)
#   make lint             gofmt, go vet
#   make fuzz             every go fuzz target in turn, FUZZTIME each (10m)
#   make fuzz-short       the same for 2s each: a quick pass, part of make test
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
AS_USER  := GOMODCACHE_SHARED=$(GOMODCACHE_SHARED) $(CURDIR)/hack/as-test-user.sh
# The test user runs go test in this tree, or in a copy of it when it cannot
# read it (a clone in /root): hack/test-tree.sh prints which.
TEST_TREE = hack/test-tree.sh $(1) $(TESTDATA)
IS_ROOT  := $(shell [ "$$(id -u)" = 0 ] && echo yes)
BIN      := $(CURDIR)/bin/crun-lite
INTEGRATION_TIMEOUT ?= 18m
# RUN=REGEXP runs only the matching integration or fault tests (go test -run).
RUNFLAG   = $(if $(RUN),-run '$(RUN)')

MANDIR      ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d

.PHONY: all build test test-setup test-unit test-integration test-root test-faults fuzz fuzz-short bench docs lint install demo clean

all: build

# Built under a temporary name and renamed: the user-namespace holder keeps
# the old binary busy, and writing over a busy executable fails (ETXTBSY).
# Two builds of cmd/crun-lite: crun-lite runs containers and links nothing
# else (tag lean: no containers/image transports, no man page renderer),
# crun-lite-full has every command and gets the others from crun-lite.
build:
	@mkdir -p bin
	$(GO) build -tags "$(TAGS) lean urfave_cli_no_docs" -trimpath -ldflags "$(LDFLAGS)" -o bin/.crun-lite.tmp ./cmd/crun-lite
	$(GO) build $(GOFLAGS_) -ldflags "$(LDFLAGS)" -o bin/.crun-lite-full.tmp ./cmd/crun-lite
	@mv -f bin/.crun-lite.tmp bin/crun-lite
	@mv -f bin/.crun-lite-full.tmp bin/crun-lite-full

test: test-setup lint build test-unit fuzz-short test-integration test-root test-faults

test-setup:
ifeq ($(IS_ROOT),yes)
	hack/test-setup.sh
	@install -d -m 0755 $(GOMODCACHE_SHARED)
	GOMODCACHE=$(GOMODCACHE_SHARED) $(GO) mod download
	@chmod -R a+rX $(GOMODCACHE_SHARED)
else
	@echo "test-setup: not root: skipping packages, test user and images (run 'sudo make test-setup' once)"
endif

# Every package, then again with the lean tags those the lean crun-lite builds.
test-unit:
ifeq ($(IS_ROOT),yes)
	tree=$$($(call TEST_TREE)) && cd "$$tree" && \
		$(AS_USER) $(GO) test $(GOFLAGS_) -count=1 ./... && \
		$(AS_USER) $(GO) test $(GOFLAGS_) -tags "$(TAGS) lean urfave_cli_no_docs" -count=1 ./store/... ./run/... ./userns/... ./internal/... ./cmd/crun-lite
else
	$(GO) test $(GOFLAGS_) -count=1 ./...
	$(GO) test $(GOFLAGS_) -tags "$(TAGS) lean urfave_cli_no_docs" -count=1 ./store/... ./run/... ./userns/... ./internal/... ./cmd/crun-lite
endif

# Fuzzing (hack/fuzz.sh): every Fuzz target of FUZZPKGS in turn, FUZZTIME
# each. A plain go test (test-unit) already runs each target's seed corpus
# and the inputs kept in testdata/fuzz/ (one that failed, saved by go test
# -fuzz: commit it with the fix). As root the targets run as the test
# user, like test-unit.
FUZZPKGS ?= ./run ./run/spec ./store ./userns ./internal/seccomp ./cmd/crun-lite
FUZZTIME ?= 10m

fuzz:
ifeq ($(IS_ROOT),yes)
	tree=$$($(call TEST_TREE)) && cd "$$tree" && \
		$(AS_USER) env GOTAGS="$(TAGS)" hack/fuzz.sh $(FUZZTIME) $(FUZZPKGS)
else
	GOTAGS="$(TAGS)" hack/fuzz.sh $(FUZZTIME) $(FUZZPKGS)
endif

# A quick pass over every target, part of `make test` (the issue asks for
# seconds of each in CI): on two shared cores 18 targets at 3 s took 89 s
# with a warm build cache and 268 s cold (instrumented builds of every
# package); at 2 s each it costs a few minutes of the 30 allowed.
FUZZSHORT ?= 2s
fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZSHORT)

# -v: a skipped suite must show as skipped in CI logs, not as a bare "ok".
test-integration: build
ifeq ($(IS_ROOT),yes)
	tree=$$($(call TEST_TREE,--bin)) && cd "$$tree" && \
		bin=$(BIN) && if [ "$$tree" != "$(CURDIR)" ]; then bin=$$tree/bin/crun-lite; fi && \
		$(AS_USER) env CRUNLITE_BIN=$$bin CRUNLITE_TESTDATA=$(TESTDATA) \
		$(GO) test $(GOFLAGS_) -tags "$(TAGS) integration" -count=1 -v $(RUNFLAG) -timeout $(INTEGRATION_TIMEOUT) ./test/integration/
else
	@if [ -f $(TESTDATA)/env ]; then \
		CRUNLITE_BIN=$(BIN) CRUNLITE_TESTDATA=$(TESTDATA) \
		$(GO) test $(GOFLAGS_) -tags "$(TAGS) integration" -count=1 -v $(RUNFLAG) -timeout $(INTEGRATION_TIMEOUT) ./test/integration/; \
	else \
		echo "test-integration: skipped: no test images in $(TESTDATA) (run 'sudo make test-setup' once)"; \
	fi
endif

# The same suite as real root: crun-lite must work without a user namespace too.
test-root: build
ifeq ($(IS_ROOT),yes)
	CRUNLITE_ALLOW_ROOT=1 CRUNLITE_BIN=$(BIN) CRUNLITE_TESTDATA=$(TESTDATA) \
		$(GO) test $(GOFLAGS_) -tags "$(TAGS) integration" -count=1 -v $(RUNFLAG) -timeout $(INTEGRATION_TIMEOUT) ./test/integration/
else
	@echo "test-root: skipped: not root"
endif

# The fault tests change the host (a subuid line, newuidmap's setuid bit,
# user.max_user_namespaces, /dev/fuse's mode, an overlay mount under /tmp),
# each for a moment and restored even when a test fails, so they need root;
# crun-lite itself runs as the separate fault user made by test-setup, whose
# holder they may kill.
test-faults: build
ifeq ($(IS_ROOT),yes)
	CRUNLITE_BIN=$(BIN) CRUNLITE_TESTDATA=$(TESTDATA) \
		$(GO) test $(GOFLAGS_) -tags "$(TAGS) integration faults" -count=1 -v $(RUNFLAG) -timeout 10m ./test/faults/
else
	@echo "test-faults: skipped: it injects host faults and must run as root"
endif

# As root: prepares images, a loopback registry and the peers' config, then
# measures as the test user. QUICK=1 checks the harness in a minute or two;
# GROUPS=run,pull,... picks groups (see bench/README.md).
bench: build
	bench/run.sh $(if $(filter-out 0,$(QUICK)),--quick) $(if $(GROUPS),--groups '$(GROUPS)') $(BIN)

# Man pages and completion scripts are generated from the CLI definitions
# (cmd/crun-lite/mangen.go, cmd_completion.go); TestGeneratedDocs, part of
# test-unit, fails when the checked-in ones differ from what this writes.
docs:
	$(GO) test $(GOFLAGS_) -count=1 -run '^TestGeneratedDocs$$' ./cmd/crun-lite -args -update

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@# go test as the test user cannot write go.mod: it must be tidy already.
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod or go.sum is not tidy: run go mod tidy"; $(GO) mod tidy -diff; exit 1; }
	$(GO) vet $(GOFLAGS_) ./...
	$(GO) vet -tags "$(TAGS) lean urfave_cli_no_docs" ./cmd/... ./run/... ./store/...
	$(GO) vet $(GOFLAGS_) -tags "$(TAGS) integration" ./test/integration/
	$(GO) vet $(GOFLAGS_) -tags "$(TAGS) integration faults" ./test/faults/

install: build
	install -D -m 0755 bin/crun-lite $(DESTDIR)$(PREFIX)/bin/crun-lite
	install -D -m 0755 bin/crun-lite-full $(DESTDIR)$(PREFIX)/libexec/crun-lite/crun-lite-full
	install -d $(DESTDIR)$(MANDIR)/man1
	install -m 0644 man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -D -m 0644 completions/crun-lite.bash $(DESTDIR)$(BASHCOMPDIR)/crun-lite
	install -D -m 0644 completions/_crun-lite $(DESTDIR)$(ZSHCOMPDIR)/_crun-lite
	install -D -m 0644 completions/crun-lite.fish $(DESTDIR)$(FISHCOMPDIR)/crun-lite.fish

demo: build
	hack/demo.sh

clean:
	rm -rf bin
