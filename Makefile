# lxc-shim: build, test, install, demo. See README.md.
PREFIX  ?= /usr/local
DESTDIR ?=
SBINDIR ?= $(PREFIX)/sbin
MANDIR  ?= $(PREFIX)/share/man
SYSTEMDDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
GO      ?= go
BIN     := bin

.PHONY: all build test test-unit cover deps install uninstall demo bench clean fuzz

all: build

# lxc-initd needs cgo (nsenter's constructor for attach) but is linked
# statically, with Go's own resolver and user lookup (no NSS to load):
# no ld.so and libc to map at each of its starts, about 2 ms of every
# start and stop command on the benchmark's machine.
# VERSION is what --version prints (internal/version).
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo unknown)
STAMP   := -X github.com/lxc-shim/lxc-shim/internal/version.stamp=$(VERSION)

build:
	CGO_ENABLED=0 $(GO) build -ldflags '$(STAMP)' -o $(BIN)/lxc-shim ./cmd/lxc-shim
	CGO_ENABLED=1 $(GO) build -tags netgo,osusergo -ldflags '$(STAMP) -linkmode external -extldflags "-static"' -o $(BIN)/lxc-initd ./cmd/lxc-initd
	CGO_ENABLED=0 $(GO) build -o $(BIN)/testinit ./tests/testinit

# deps installs (from Debian's packages) what the tests and the demo need
# and are missing; it does nothing when all is there.
deps:
	./scripts/deps.sh

# test runs every test, the end-to-end ones as root. With
# LXC_SHIM_REQUIRE_ROOT=1 (CI sets it) a test that needs root fails instead
# of skipping.
test: deps build
	LXC_SHIM_BIN_DIR=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 20m ./...
	$(GO) test -race -count=1 -timeout 10m $(RACE_PKGS)

# RACE_PKGS are the packages whose goroutines share state (the shim's
# loop, control server and reaper, the console multiplexer, the client's
# deadlines, hooks, the asynchronous log): `make test` runs their tests
# again under the race detector.
RACE_PKGS := ./supervise ./shimctl ./console ./hook ./internal/asynclog

# cover runs every test as `test` does, with lxc-shim and lxc-initd built
# with -cover for the end-to-end tests, so what the shim, lxc-initd and the
# container's stage (which writes its counters before it execs the init:
# internal/covflush) run counts beside the unit tests. Prints the coverage
# per package; cover/cover.out is for `go tool cover -func|-html`.
COVERDIR ?= $(CURDIR)/cover
cover: deps
	rm -rf $(COVERDIR) && mkdir -p $(COVERDIR)/bin $(COVERDIR)/data
	CGO_ENABLED=0 $(GO) build -cover -covermode=atomic -coverpkg=./... -o $(COVERDIR)/bin/lxc-shim ./cmd/lxc-shim
	CGO_ENABLED=1 $(GO) build -cover -covermode=atomic -coverpkg=./... -o $(COVERDIR)/bin/lxc-initd ./cmd/lxc-initd
	CGO_ENABLED=0 $(GO) build -o $(COVERDIR)/bin/testinit ./tests/testinit
	LXC_SHIM_COVERDIR=$(COVERDIR)/data LXC_SHIM_BIN_DIR=$(COVERDIR)/bin $(GO) test -count=1 -timeout 30m \
		-cover -covermode=atomic -coverpkg=./... ./... -args -test.gocoverdir=$(COVERDIR)/data
	$(GO) tool covdata percent -i=$(COVERDIR)/data
	$(GO) tool covdata textfmt -i=$(COVERDIR)/data -o $(COVERDIR)/cover.out
	@echo "cover: per function: go tool cover -func=$(COVERDIR)/cover.out; as HTML: go tool cover -html=$(COVERDIR)/cover.out"

# test-unit runs what needs neither root nor packages.
test-unit:
	$(GO) test -count=1 -short ./config/... ./signals/...

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 60s ./config/

demo: deps build
	./scripts/demo.sh $(CURDIR)/$(BIN)

bench: build
	./bench/run.sh

install: build
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSCONFDIR)/init.d $(DESTDIR)$(SYSCONFDIR)/conf.d $(DESTDIR)$(SYSTEMDDIR)
	install -m 0755 $(BIN)/lxc-shim $(BIN)/lxc-initd $(DESTDIR)$(SBINDIR)/
	sed 's|@SBINDIR@|$(SBINDIR)|g' init.d/lxc > $(DESTDIR)$(SYSCONFDIR)/init.d/lxc
	chmod 0755 $(DESTDIR)$(SYSCONFDIR)/init.d/lxc
	install -m 0644 init.d/conf.d/lxc $(DESTDIR)$(SYSCONFDIR)/conf.d/lxc
	for u in systemd/*.service; do \
		sed 's|@SBINDIR@|$(SBINDIR)|g' $$u > $(DESTDIR)$(SYSTEMDDIR)/$$(basename $$u); \
		chmod 0644 $(DESTDIR)$(SYSTEMDDIR)/$$(basename $$u); \
	done
	if ls docs/man/*.[1-8] >/dev/null 2>&1; then \
		for m in docs/man/*.[1-8]; do \
			s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; \
			install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; \
		done; \
	fi

# uninstall keeps /etc/conf.d/lxc when it was edited, as a package manager
# keeps a changed conffile.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/lxc-shim $(DESTDIR)$(SBINDIR)/lxc-initd
	rm -f $(DESTDIR)$(SYSCONFDIR)/init.d/lxc
	for u in systemd/*.service; do rm -f $(DESTDIR)$(SYSTEMDDIR)/$$(basename $$u); done
	for m in docs/man/*.[1-8]; do [ -e "$$m" ] && rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$$(basename $$m); done; true
	cmp -s init.d/conf.d/lxc $(DESTDIR)$(SYSCONFDIR)/conf.d/lxc && rm -f $(DESTDIR)$(SYSCONFDIR)/conf.d/lxc; true

clean:
	rm -rf $(BIN) $(COVERDIR)
