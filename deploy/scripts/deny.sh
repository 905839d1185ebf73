#!/usr/bin/env bash
# The dependency tree against deny.toml: licences, bans and sources always, and RustSec
# advisories when their database (github.com/RustSec/advisory-db) can be reached. Installs
# cargo-deny from crates.io when missing. `--all-warnings` also prints the warnings (duplicate
# versions, with their inclusion graphs), which `make test` leaves out.
#
# Advisories are reported, not fatal, unless `--strict-advisories`: an advisory published today
# against a dependency says nothing about the change under test, and would turn every build red
# on machines that reach GitHub while those that cannot stay green. The release checklist
# (README) runs the strict form; licences, bans and sources always fail the build.
set -euo pipefail
cd "$(dirname "$0")/../.."

level=error strict=0
for arg in "$@"; do
    case "$arg" in
        --all-warnings) level=warn ;;
        --strict-advisories) strict=1 ;;
        *) echo "deny: unknown argument $arg" >&2; exit 2 ;;
    esac
done

if ! cargo deny --version >/dev/null 2>&1; then
  echo "deny: installing cargo-deny from crates.io (a few minutes, once)"
  cargo install cargo-deny --locked --version '^0.20'
fi

# Reachability by curl (deps installs it; a fresh Debian has no git, and cargo-deny fetches the
# database with its own git implementation), by git where curl is missing.
reachable() {
  local url=https://github.com/RustSec/advisory-db
  if command -v curl >/dev/null; then
    timeout 20 curl -fsS -m 20 -o /dev/null "$url/info/refs?service=git-upload-pack" 2>/dev/null
  else
    timeout 20 git ls-remote --exit-code "$url" HEAD >/dev/null 2>&1
  fi
}

if reachable; then
  cargo deny -L "$level" check licenses bans sources
  if ! cargo deny -L "$level" check advisories; then
    [ "$strict" -eq 1 ] && exit 1
    echo "deny: WARNING: RustSec advisories above concern dependencies; not fatal here (deploy/scripts/deny.sh --strict-advisories before a release)"
  fi
else
  echo "deny: the RustSec advisory database (github.com) cannot be reached from here: advisories not checked"
  cargo deny -L "$level" check licenses bans sources
fi
