#!/usr/bin/env bash
# The dependency tree against deny.toml: licences, bans and sources always, and RustSec
# advisories when their database (github.com/RustSec/advisory-db) can be reached. Installs
# cargo-deny from crates.io when missing. `--all-warnings` also prints the warnings (duplicate
# versions, with their inclusion graphs), which `make test` leaves out.
set -euo pipefail
cd "$(dirname "$0")/../.."

level=error
[[ "${1:-}" == "--all-warnings" ]] && level=warn

if ! cargo deny --version >/dev/null 2>&1; then
  echo "deny: installing cargo-deny from crates.io (a few minutes, once)"
  cargo install cargo-deny --locked --version '^0.20'
fi

if timeout 20 git ls-remote --exit-code https://github.com/RustSec/advisory-db HEAD >/dev/null 2>&1; then
  cargo deny -L "$level" check
else
  echo "deny: the RustSec advisory database (github.com) cannot be reached from here: advisories not checked"
  cargo deny -L "$level" check licenses bans sources
fi
