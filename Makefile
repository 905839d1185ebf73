# Order-lead module: local run, tests and checks. `make` (or `make help`) lists the targets.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# The servers the integration tests use (crates/test-support reads these).
export LEADGEN_TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
export LEADGEN_TEST_AMQP_URL ?= amqp://guest:guest@127.0.0.1:5672/%2f

# cargo-nextest when installed, else cargo test; both run every test even after a failure.
# nextest runs the end-to-end tests one at a time (.config/nextest.toml's `e2e` group); cargo
# test runs that package apart, with one test thread.
NEXTEST := $(shell cargo nextest --version 2>/dev/null)
TEST_ALL = $(if $(NEXTEST),cargo nextest run --workspace --no-fail-fast,s=0; cargo test --workspace --exclude leadgen-e2e --no-fail-fast || s=1; cargo test -p leadgen-e2e --no-fail-fast -- --test-threads 1 || s=1; exit $$s)
TEST_E2E = $(if $(NEXTEST),cargo nextest run -p leadgen-e2e --no-fail-fast,cargo test -p leadgen-e2e --no-fail-fast -- --test-threads 1)

.PHONY: help run deps build test deny k8s-check prometheus-check events-check test-e2e chaos bench fmt fmt-check lint migrate schemas openapi schema-check model-quality precommit clean-run

help: ## List the targets
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z0-9_-]+:.*## / { printf "  %-13s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

run: ## Run everything locally behind the gateway on http://127.0.0.1:8080 (Ctrl-C stops it)
	deploy/scripts/run-local.sh

deps: ## Install if missing and start PostgreSQL, RabbitMQ and nginx; install Prometheus and schemathesis
	deploy/scripts/deps.sh

build: ## Build every binary (target/debug)
	cargo build --workspace --bins

test: deps build deny k8s-check prometheus-check events-check ## Run the whole workspace's tests against the local PostgreSQL and RabbitMQ
	$(TEST_ALL)

deny: ## Check the dependency tree's licences, bans and sources (deny.toml); report advisories where RustSec is reachable
	deploy/scripts/deny.sh

prometheus-check: ## Check the Prometheus config and alert rules, run their unit tests (promtool)
	deploy/prometheus/check.sh --self-test

# proto-events/check.py needs jsonschema and PyYAML: it runs with the python of the checks' venv
# (k8s/requirements.txt, created by deploy/scripts/lib.sh's ensure_tools_venv as k8s/check.sh
# does), not the system python.
events-check: ## Validate the event examples against their JSON Schemas and check asyncapi.yaml (offline)
	source deploy/scripts/lib.sh && ensure_tools_venv \
		&& "$$LEADGEN_REPO_ROOT/$$LEADGEN_TOOLS_VENV/bin/python" proto-events/check.py --self-test

k8s-check: ## Lint the Dockerfile; render and validate the Kubernetes manifests offline
	k8s/check.sh
	k8s/check.sh --self-test

test-e2e: deps build ## Run only the end-to-end tests (package leadgen-e2e)
	$(TEST_E2E)

chaos: deps build ## Chaos tests: backfills while RabbitMQ and PostgreSQL restart and services are killed (restarts the local servers; run alone, as root; LEADGEN_CHAOS_SEED varies the kills)
	@[ "$$(id -u)" = 0 ] || { echo "make chaos restarts the local RabbitMQ (rabbitmqctl) and PostgreSQL (pg_ctlcluster): run it as root" >&2; exit 1; }
	$(if $(NEXTEST),cargo nextest run -p leadgen-e2e --run-ignored ignored-only --test-threads 1 -E 'test(chaos)',cargo test -p leadgen-e2e --test e2e -- --ignored --test-threads 1 chaos)

bench: deps ## Benchmarks (release), ending with one table (and target/bench/*.json): backlog vs COPY, the 1M-lead list, quota use, RSS
	cargo build --release --workspace --bins
	cargo bench -p order-processor --bench backlog
	cargo bench -p lead-api --bench list
	BENCH_LIST_CASES=matrix BENCH_LIST_REPEAT=100 cargo bench -p lead-api --bench list
	LEADGEN_E2E_PROFILE=release cargo bench -p leadgen-e2e --bench system

fmt: ## Format the code
	cargo fmt --all

fmt-check: ## Check the formatting
	cargo fmt --all -- --check

lint: ## Clippy on every target, warnings are errors
	cargo clippy --workspace --all-targets -- -D warnings

migrate: deps ## Create the local database leadgen if missing and apply the migrations
	source deploy/scripts/lib.sh && ensure_database leadgen
	LEADGEN_CONFIG_DIR=tools/leadctl/config cargo run -q -p leadctl -- migrate

schemas: ## Regenerate the event JSON schemas in proto-events/schemas/v*
	cargo run -q -p leadctl -- schemas --out proto-events/schemas

openapi: ## Regenerate docs/openapi.json from the services' code
	cargo run -q -p leadctl -- openapi --out docs/openapi.json

schema-check: ## Check the event schemas and payloads (the events crate's tests)
	cargo test -p leadgen-events

# The shop `make model-quality` measures on (docs/model-quality.md).
MODEL_QUALITY_PLATFORM ?= TAOBAO
MODEL_QUALITY_FILE = .run/model-quality-$(MODEL_QUALITY_PLATFORM).json

model-quality: ## Measure the built-in model on a simulated shop; fails below ratio 0.8 or lift 2
	cargo build -q -p platform-sim -p leadctl
	mkdir -p .run
	target/debug/platform-sim dataset --platform $(MODEL_QUALITY_PLATFORM) --seed 42 \
		--orders 5000 --history-days 365 --anchor-time 2026-03-01T00:00:00Z \
		--out $(MODEL_QUALITY_FILE)
	target/debug/leadctl model-quality --dataset $(MODEL_QUALITY_FILE) \
		--require-ratio 0.8 --require-lift 2

precommit: fmt-check lint test ## Everything CI checks

clean-run: ## Remove .run (logs and gateway state of make run)
	rm -rf .run
