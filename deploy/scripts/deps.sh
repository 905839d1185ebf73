#!/usr/bin/env bash
# Makes sure PostgreSQL (127.0.0.1:5432) and RabbitMQ (127.0.0.1:5672) are installed and running,
# and that nginx, envsubst, Prometheus (prometheus, promtool; never its packaged service) and
# python3 with pip and venv (the checks' tools venv: k8s/check.sh, make events-check) are
# installed. Idempotent; when everything is up it only probes.
# Used by `make test`, `make test-e2e` and `make run`; `--run` (make run's) leaves out the
# contract test's fuzzer (schemathesis, from PyPI), so that running the product needs no PyPI.
set -euo pipefail
# shellcheck source=deploy/scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_packages
ensure_prometheus
[ "${1:-}" = --run ] || ensure_schemathesis
start_postgres
ensure_postgres_login
start_rabbitmq
log "PostgreSQL and RabbitMQ are up"
