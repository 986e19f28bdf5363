# Rudder: build, test, benchmark. `make help` lists the targets.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: help deps build release test lint fmt bench bench-store bench-apiserver bench-kubelet bench-scheduler clean up down e2e bench-cluster

help: ## list targets
	@grep -E '^[a-z0-9-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

deps: ## install the Debian packages builds and tests need (etcd, protoc)
	@scripts/install-deps.sh

build: deps ## debug build of the whole workspace
	$(CARGO) build --workspace --all-targets

release: deps ## optimised build of every binary
	$(CARGO) build --workspace --release

test: deps ## every test: unit, integration, store conformance on the embedded store and on real etcd
	CARGO_INCREMENTAL=0 $(CARGO) test --workspace --no-fail-fast

lint: ## formatting and clippy, warnings are errors
	$(CARGO) fmt --all -- --check
	CARGO_INCREMENTAL=0 $(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

bench: bench-store bench-apiserver bench-controller-manager bench-kubelet bench-scheduler ## every benchmark

bench-store: deps ## store writes/s, latency and watch delivery: embedded vs etcd
	$(CARGO) bench -p rudder-store --bench store

clean:
	$(CARGO) clean

.PHONY: apiserver
apiserver: ## run kube-apiserver on the embedded store in .rudder/ (127.0.0.1:6443)
	$(CARGO) build -p rudder-apiserver
	@mkdir -p .rudder
	@echo "export KUBECONFIG=$(CURDIR)/.rudder/pki/admin.kubeconfig"
	./target/debug/kube-apiserver --bind-address=127.0.0.1 --secure-port=6443 \
		--cert-dir=.rudder/pki --data-dir=.rudder/data

bench-apiserver: deps ## the release kube-apiserver: creates/s vs raw store, watch fan-out, RSS, time to ready
	$(CARGO) build --release -p rudder-apiserver
	$(CARGO) bench -p rudder-e2e --bench apiserver

bench-kubelet: deps ## the release kubelet on a private containerd: pod start latency p50/p99 over 100 pods, RSS idle and with 100 pods
	$(CARGO) build --release -p rudder-kubelet --bin kubelet
	$(CARGO) bench -p rudder-kubelet --bench kubelet

bench-scheduler: deps ## kube-scheduler: decision rate, pods/s bound end to end, RSS (5,000 nodes, 30,000 pods)
	$(CARGO) build --release -p rudder-scheduler
	$(CARGO) bench -p rudder-scheduler --bench scheduler

bench-controller-manager: deps ## a 1,000-replica Deployment from 0 to 1,000 pods created (target < 5 s)
	$(CARGO) bench -p rudder-controller-manager --bench deployment

# The local cluster (rkind, e2e/): the control plane as host processes on a per-cluster bridge,
# each node a network namespace with its own containerd, kubelet and kube-proxy. Needs root.
RKIND_NAME ?= rkind
RKIND_NODES ?= 3
RKIND_PACKAGES := -p rudder-apiserver -p rudder-scheduler -p rudder-controller-manager \
	-p rudder-kubelet -p rudder-proxy -p rudder-dns -p rudder-e2e

up: deps ## build the release binaries and start a 3-node local cluster (prints its KUBECONFIG)
	CARGO_INCREMENTAL=0 $(CARGO) build --release $(RKIND_PACKAGES)
	./target/release/rkind create cluster --name $(RKIND_NAME) --nodes $(RKIND_NODES)

down: ## delete the local cluster made by make up
	@if [ -x ./target/release/rkind ]; then ./target/release/rkind delete cluster --name $(RKIND_NAME); \
	else CARGO_INCREMENTAL=0 $(CARGO) run --release -p rudder-e2e --bin rkind -- delete cluster --name $(RKIND_NAME); fi

e2e: deps ## every conformance-style e2e test on fresh rkind clusters (release binaries; needs root)
	CARGO_INCREMENTAL=0 $(CARGO) build --release $(RKIND_PACKAGES)
	RKIND_BIN_DIR=$(CURDIR)/target/release CARGO_INCREMENTAL=0 $(CARGO) test -p rudder-e2e --test cluster --test services --test apps --test kubectl_cluster -- --include-ignored --test-threads=1

bench-cluster: deps ## rkind: create -> all nodes Ready, 10-replica Deployment -> Running, idle RSS per component
	CARGO_INCREMENTAL=0 $(CARGO) build --release $(RKIND_PACKAGES)
	RKIND_BIN_DIR=$(CURDIR)/target/release CARGO_INCREMENTAL=0 $(CARGO) bench -p rudder-e2e --bench cluster

# Deployment onto VMs (deploy/): PKI tool, systemd units, installer, and the nspawn-machine e2e.
.PHONY: deploy-lint vm-e2e
deploy-lint: ## rudder-pki tests, systemd-analyze verify on deploy/systemd, every unit flag accepted by our binaries
	CARGO_INCREMENTAL=0 $(CARGO) build -p rudder-apiserver -p rudder-controller-manager -p rudder-scheduler -p rudder-kubelet -p rudder-proxy
	CARGO_INCREMENTAL=0 $(CARGO) test -p rudder-pki -- --include-ignored
	bash -n deploy/install.sh deploy/vm/vm.sh deploy/vm/e2e.sh

vm-e2e: ## deploy the HA layout (3 control-plane + 1 worker nspawn machines) with deploy/install.sh, check nodes, a workload and failover (needs root)
	CARGO_INCREMENTAL=0 $(CARGO) build -p rudder-apiserver -p rudder-controller-manager -p rudder-scheduler -p rudder-kubelet -p rudder-proxy -p rudder-pki
	RUDDER_BIN_DIR=$(CURDIR)/target/debug deploy/vm/e2e.sh
