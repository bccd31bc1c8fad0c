# bosun: see README.md. Every target works on a fresh Debian machine as root.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
# The approved toolchain (security fixes over the machine's Go 1.26.8); the go
# command fetches it from the Go module proxy once.
export GOTOOLCHAIN ?= go1.27.3
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# hack/ and e2e/ are Go modules of their own (bosun's module holds only what
# the binary needs); e2e/criproxy is the e2e tests' CRI proxy, whose own tests
# need no root.
E2E := $(GO) -C e2e

TOOLS := $(CURDIR)/bin/tools

.PHONY: help build install install-files deb package-test unit fuzz e2e e2e-containerd2 e2e-controlplane e2e-ha controlplane-vs-kubelet test bench demo demo-stop lint fmt vet verify vulncheck generate clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## build bin/bosun
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/bosun ./cmd/bosun

# make install puts bosun under $(DESTDIR)$(PREFIX): the binary, the systemd
# unit (ExecStart= names the installed binary), kubeadm's drop-in, unused, in
# $(DATADIR)/bosun (examples/systemd/10-kubeadm.conf says how to use it), and
# the bash, zsh and fish completions where those shells look for them.
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR ?= $(DATADIR)/zsh/site-functions
FISHCOMPDIR ?= $(DATADIR)/fish/vendor_completions.d
# BOSUN_BIN is the binary install-files installs (hack/deb.sh gives its own).
BOSUN_BIN ?= bin/bosun

install: build ## install the binary, systemd unit, kubeadm drop-in and completions in $(DESTDIR)$(PREFIX) (PREFIX=/usr/local)
	$(MAKE) --no-print-directory install-files

install-files: # install without building $(BOSUN_BIN) first
	install -d -m 0755 $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(DATADIR)/bosun \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	install -m 0755 $(BOSUN_BIN) $(DESTDIR)$(BINDIR)/bosun
	sed 's|/usr/local/bin/bosun|$(BINDIR)/bosun|g' examples/systemd/bosun.service >$(DESTDIR)$(SYSTEMDUNITDIR)/bosun.service
	sed 's|/usr/local/bin/bosun|$(BINDIR)/bosun|g; s|/usr/share/bosun/|$(DATADIR)/bosun/|g' \
		examples/systemd/10-kubeadm.conf >$(DESTDIR)$(DATADIR)/bosun/10-kubeadm.conf
	$(BOSUN_BIN) completion bash >$(DESTDIR)$(BASHCOMPDIR)/bosun
	$(BOSUN_BIN) completion zsh >$(DESTDIR)$(ZSHCOMPDIR)/_bosun
	$(BOSUN_BIN) completion fish >$(DESTDIR)$(FISHCOMPDIR)/bosun.fish
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/bosun.service $(DESTDIR)$(DATADIR)/bosun/10-kubeadm.conf \
		$(DESTDIR)$(BASHCOMPDIR)/bosun $(DESTDIR)$(ZSHCOMPDIR)/_bosun $(DESTDIR)$(FISHCOMPDIR)/bosun.fish

deb: build ## build the Debian package bin/bosun_<version>_<arch>.deb from the tree (dpkg-deb)
	hack/deb.sh bin/bosun bin

# The package test builds the package from bin/bosun, unpacks it into a
# scratch root and checks its files, their modes and that its bosun runs.
package-test: build ## build the Debian package and test it (no root needed)
	BOSUN_BIN=$(CURDIR)/bin/bosun $(GO) -C hack test -count=1 ./deb/

unit: ## unit tests with the race detector (fakes only, no root needed)
	$(GO) test -race -count=1 ./...
	$(E2E) test -race -count=1 ./criproxy

FUZZTIME ?= 60s
FUZZTIME_SHORT ?= 20s
fuzz: ## the fuzz targets: manifest decoder $(FUZZTIME), path helper and CRI log reader $(FUZZTIME_SHORT) each (seeds in */testdata/fuzz)
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./manifest/
	$(GO) test -run '^$$' -fuzz '^FuzzJoin$$' -fuzztime $(FUZZTIME_SHORT) ./podfs/
	$(GO) test -run '^$$' -fuzz '^FuzzReader$$' -fuzztime $(FUZZTIME_SHORT) ./runtime/crilog/

# BOSUN_E2E_LONG=1 runs the long fault tests (containerd killed six times 20 s
# apart, the 60 s soak) at full length, on containerd 1.6 only; BOSUN_E2E_CLOCK=1
# lets TestWallClockJumps move the machine's wall clock (it restores it).
e2e: ## end-to-end tests of the built binary against a private containerd (root)
	hack/containerd.sh install
	BOSUN_E2E_LONG=1 BOSUN_E2E_CLOCK=1 $(E2E) test -count=1 -v -timeout 20m .

CONTAINERD2_VERSION := v2.4.2
CONTAINERD2_BIN := $(CURDIR)/bin/containerd-$(CONTAINERD2_VERSION)

$(CONTAINERD2_BIN)/containerd:
	GOBIN=$(CONTAINERD2_BIN) GOFLAGS=-mod=mod $(GO) install -tags "no_btrfs no_zfs no_devmapper" \
		github.com/containerd/containerd/v2/cmd/containerd@$(CONTAINERD2_VERSION) \
		github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$(CONTAINERD2_VERSION)

e2e-containerd2: $(CONTAINERD2_BIN)/containerd ## the e2e tests again against containerd 2.x (built from the Go module proxy)
	hack/containerd.sh install
	CONTAINERD_BIN=$(CONTAINERD2_BIN) $(E2E) test -count=1 -v -timeout 20m .

# kubeadm's control plane, built from the Go module proxy by hack/kube/build.sh
# into bin/kube-$(KUBE_VERSION), bin/kube-$(KUBE_OLD_VERSION) (the release the
# upgrade test starts from) and bin/etcd-$(ETCD_VERSION) (about 10 minutes per
# release on 2 cores the first time; skipped when the binaries are there).
KUBE_VERSION := v1.37.2
KUBE_OLD_VERSION := v1.36.3
ETCD_VERSION := v3.7.0
CONTROLPLANE_ENV := KUBE_VERSION=$(KUBE_VERSION) KUBE_OLD_VERSION=$(KUBE_OLD_VERSION) ETCD_VERSION=$(ETCD_VERSION)

e2e-controlplane: $(CONTAINERD2_BIN)/containerd ## kubeadm init, faults and kubeadm upgrade apply under bosun, on containerd 1.6 and 2.x (root)
	$(CONTROLPLANE_ENV) hack/kube/build.sh
	KUBE_VERSION=$(KUBE_OLD_VERSION) hack/kube/build.sh kube
	hack/containerd.sh install
	$(CONTROLPLANE_ENV) $(E2E) test -count=1 -v -timeout 30m ./controlplane/
	$(CONTROLPLANE_ENV) CONTAINERD_BIN=$(CONTAINERD2_BIN) $(E2E) test -count=1 -v -timeout 30m ./controlplane/

# make e2e-ha makes a three-node HA control plane on this machine (a network
# and a mount namespace, a containerd and a bosun per node; a VIP with a TCP
# load balancer in front, as keepalived and haproxy provide), joins two nodes
# with kubeadm join --control-plane, and loses bosun, a node and quorum
# (e2e/ha). Containerd 1.6 only.
e2e-ha: ## a three-node HA control plane under bosun: kubeadm init and join --control-plane, stacked etcd, a VIP; a node and quorum lost (root)
	$(CONTROLPLANE_ENV) hack/kube/build.sh
	hack/containerd.sh install
	$(CONTROLPLANE_ENV) $(E2E) test -count=1 -v -timeout 45m ./ha/

# make controlplane-vs-kubelet runs TestUpgrade (kubeadm init $(KUBE_OLD_VERSION), then
# kubeadm upgrade apply $(KUBE_VERSION) under a prober) once under bosun and once
# under the kubelet $(KUBE_VERSION), on Debian's containerd 1.6, in one test
# process on one containerd, and prints both tables. Not part of make test.
controlplane-vs-kubelet: ## kubeadm init and upgrade apply under bosun, then the kubelet, side by side (root, ~7 min)
	$(CONTROLPLANE_ENV) hack/kube/build.sh
	KUBE_VERSION=$(KUBE_OLD_VERSION) hack/kube/build.sh kube
	KUBE_VERSION=$(KUBE_VERSION) hack/kube/build.sh kubelet
	hack/containerd.sh install
	$(CONTROLPLANE_ENV) BOSUN_CP_AGENT=bosun,kubelet $(E2E) test -count=1 -v -run '^TestUpgrade$$' -timeout 45m ./controlplane/

test: unit package-test fuzz e2e e2e-containerd2 e2e-controlplane e2e-ha ## unit tests, then e2e (the kubeadm control plane, and a three-node HA one) against Debian's containerd 1.6 and containerd 2.x

# make bench PEER=kubelet runs the same measurements on the kubelet $(KUBE_VERSION)
# in standalone mode, on the same containerd in the same run; the kubelet is
# built on demand into bin/kube-$(KUBE_VERSION)/kubelet (about a minute).
PEER ?=
bench: ## benchmark at 10/30/100 pods against a private containerd (root, ~8 min; PEER=kubelet ~15): bench/results.{json,txt}
	hack/containerd.sh install
	$(if $(filter kubelet,$(PEER)),KUBE_VERSION=$(KUBE_VERSION) hack/kube/build.sh kubelet)
	BOSUN_BENCH_PEER=$(PEER) BOSUN_BENCH_KUBELET=$(CURDIR)/bin/kube-$(KUBE_VERSION)/kubelet \
		$(E2E) test -tags bench -count=1 -run TestBench -v -timeout 40m .

demo: ## run bosun with examples/ on a private containerd (root)
	hack/demo.sh

demo-stop: ## stop the demo
	hack/demo.sh stop

fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')

vet: ## go vet (bosun, hack and e2e modules) and a gofmt check
	$(GO) vet ./...
	$(GO) -C hack vet ./...
	$(E2E) vet ./...
	$(E2E) vet -tags bench .
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

$(TOOLS)/golangci-lint: hack/tools/go.mod
	cd hack/tools && GOBIN=$(TOOLS) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint

lint: vet $(TOOLS)/golangci-lint ## golangci-lint with the linters of .golangci.yml (pinned in hack/tools)
	$(TOOLS)/golangci-lint run ./...
	cd hack && $(TOOLS)/golangci-lint run ./...
	cd e2e && $(TOOLS)/golangci-lint run ./...

generate: ## regenerate proto/ (protoc from Debian, plugins pinned in hack/tools)
	hack/generate.sh

vulncheck: ## govulncheck against a vulnerability database built offline from golang.org/x/vulndb
	hack/vulncheck.sh

verify: vet lint vulncheck ## gofmt, vet, lint, govulncheck, proto/ identical to what generate makes, go.mod's direct requirements all in the binary
	hack/generate.sh verify
	hack/directdeps.sh

clean: ## remove build output
	rm -rf bin
