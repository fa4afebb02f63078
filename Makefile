# routeguide: `make run-server`, `make run-client`, `make test`, `make lint`, `make clean`.
# `make test` runs the Rust tests, then the interop suite (tests/interop/) against grpcio for Python.
#
# Everything uses cargo's `dev` profile, whose dependencies are compiled with optimisation (see
# Cargo.toml), so the gRPC C core is built once, on the first command, and shared by all of them.
# Building it needs CMake: when none is on PATH, a pinned CMake from PyPI is installed under .tools/
# (git-ignored) on first use.

SHELL := /bin/bash
CARGO ?= cargo
ARGS ?=
TOOLS := $(CURDIR)/.tools
CMAKE_VERSION := 3.31.6
BIN := target/debug

export PATH := $(TOOLS)/bin:$(PATH)
# CMake 4 refuses the c-ares bundled with gRPC without this (also in .cargo/config.toml for plain cargo).
export CMAKE_POLICY_VERSION_MINIMUM := 3.5

INTEROP_VENV := $(TOOLS)/interop-venv
# The gRPC core as we build it (vendor/README.md): every cargo command reads it, through Cargo.toml's
# [patch.crates-io], so `prerequisites` makes it first.
VENDORED := vendor/grpcio-sys/.vendored

SOAK_SECS ?= 600
ONLY ?=

.PHONY: help build build-bench run-server run-client test rust-test interop bench bench-h2load soak lint clean prerequisites

## help: this list (each target's `##` line)
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)

## build: the server and the client (not the load generator)
build: prerequisites
	$(CARGO) build --bins

## build-bench: the load generator, route_guide_bench (bench/), beside the programs it measures
build-bench: build
	$(CARGO) build -p routeguide-bench

## run-server: build, then serve the 100 standard features on port 50051 (ARGS="--help" lists flags)
run-server: build
	$(BIN)/route_guide_server $(ARGS)

## run-client: build, then run the tutorial's tour against localhost:50051 (ARGS="--style future")
run-client: build
	$(BIN)/route_guide_client $(ARGS)

## test: unit, integration and doc tests against real servers on ephemeral ports, then interop
test: rust-test interop

rust-test: prerequisites
	$(CARGO) test --workspace

## interop: our server against a Python client, our client and load generator against a Python server
interop: build-bench $(INTEROP_VENV)/.installed
	$(INTEROP_VENV)/bin/python tests/interop/run_interop.py --target-dir $(BIN) --db data/route_guide_db.json --proto-dir proto

# The interop suite's Python packages, pinned in tests/interop/requirements.txt; redone when it changes.
$(INTEROP_VENV)/.installed: tests/interop/requirements.txt
	@command -v python3 >/dev/null || { echo "error: python3 is missing, needed by the interop suite: install python3 and python3-venv"; exit 1; }
	@echo "creating $(INTEROP_VENV) from tests/interop/requirements.txt (once)"
	@python3 -m venv $(INTEROP_VENV) || { echo "error: python3 cannot create a virtual environment: install python3-venv"; exit 1; }
	@$(INTEROP_VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/interop/requirements.txt
	@touch $@

# Only the Python peer needs Python: with ONLY set and no `peer` in it, none is installed or used.
BENCH_NEEDS_PEER := $(if $(ONLY),$(findstring peer,$(ONLY)),peer)

## bench: servers pinned to CPU 0, the load generator to CPU 1; a table, also in target/bench/results.json
##        ONLY=unary,big,redis,peer,metrics runs only those parts; only `peer` needs Python
bench: build-bench $(if $(BENCH_NEEDS_PEER),$(INTEROP_VENV)/.installed)
	taskset -c 1 $(BIN)/route_guide_bench suite --server $(BIN)/route_guide_server --server-cpu 0 \
		$(if $(BENCH_NEEDS_PEER),--peer-python $(INTEROP_VENV)/bin/python --peer-script tests/interop/route_guide_server.py) \
		$(if $(ONLY),--only $(ONLY))

## bench-h2load: server CPU per message measured by h2load, an independent client (needs nghttp2-client)
bench-h2load: build
	@command -v h2load >/dev/null || { echo "error: h2load is missing: install nghttp2-client (apt-get install nghttp2-client)"; exit 1; }
	python3 bench/h2load.py $(BIN)/route_guide_server data/route_guide_db.json

## soak: mixed load over all four RPCs for SOAK_SECS seconds (default 600); not part of `make test`
soak: build-bench
	taskset -c 1 $(BIN)/route_guide_bench soak --server $(BIN)/route_guide_server --server-cpu 0 --secs $(SOAK_SECS)

## lint: formatting, clippy (warnings as errors) and the supply chain (cargo deny, deny.toml)
lint: prerequisites cargo-deny
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) deny --locked check $(DENY_CHECKS)

# The supply chain (deny.toml): licenses, bans and sources. Advisories are checked too where the
# RustSec database can be fetched (`make lint DENY_CHECKS=` checks everything); this workplace
# cannot reach it, so they are left out by default.
DENY_CHECKS ?= bans licenses sources
CARGO_DENY_VERSION := 0.20.2

# cargo-deny, pinned, installed into cargo's own bin folder once: a later run (CI's included)
# finds it there and builds nothing.
.PHONY: cargo-deny
cargo-deny:
	@$(CARGO) deny --version 2>/dev/null | grep -qx 'cargo-deny $(CARGO_DENY_VERSION)' || { \
		echo "installing cargo-deny $(CARGO_DENY_VERSION) from crates.io (once)"; \
		$(CARGO) install --locked cargo-deny --version $(CARGO_DENY_VERSION); }

## clean: removes target/, .tools/ (the installed CMake, the interop suite's Python) and vendor/grpcio-sys
clean:
	rm -rf target $(TOOLS) vendor/grpcio-sys

# What building the gRPC core needs: cargo, a C++ compiler, CMake (installed here if missing), and
# the core itself with our patch (vendor/README.md).
prerequisites: $(VENDORED) $(if $(shell PATH='$(PATH)' command -v cmake),,$(TOOLS)/bin/cmake)
	@command -v $(CARGO) >/dev/null || { echo "error: cargo is missing: install Rust with rustup (https://rustup.rs)"; exit 1; }
	@command -v c++ >/dev/null || command -v g++ >/dev/null || command -v clang++ >/dev/null || \
		{ echo "error: no C++ compiler, needed to build the gRPC core: install g++ (Debian/Ubuntu: apt-get install g++)"; exit 1; }

# grpcio-sys as published, checked against its checksum, with vendor/*.patch applied.
$(VENDORED): vendor/fetch-grpcio-sys $(wildcard vendor/grpcio-sys-*.patch)
	@vendor/fetch-grpcio-sys

$(TOOLS)/bin/cmake:
	@command -v python3 >/dev/null || { echo "error: cmake is missing, and python3 to install it is too: install cmake (apt-get install cmake) or python3"; exit 1; }
	@echo "cmake not found: installing CMake $(CMAKE_VERSION) from PyPI into $(TOOLS) (once)"
	@python3 -m venv $(TOOLS)/venv || { echo "error: python3 cannot create a virtual environment: install python3-venv, or cmake"; exit 1; }
	@$(TOOLS)/venv/bin/pip install --quiet --disable-pip-version-check cmake==$(CMAKE_VERSION)
	@mkdir -p $(TOOLS)/bin && ln -sf ../venv/bin/cmake $@
