#!/usr/bin/env bash
# `make run`: the whole order-lead module on this machine, behind the local gateway.
#
# Starts PostgreSQL and RabbitMQ if needed (deps.sh), builds the binaries, creates and migrates
# the `leadgen` database, then starts platform-sim, the four services, Prometheus (scraping them
# and evaluating deploy/prometheus/alerts.yml) and nginx, waits until each is ready, and prints a
# development token and curl commands to try. Ctrl-C (or SIGTERM) stops what this script started
# and leaves PostgreSQL and RabbitMQ running. If anything it started dies, it prints the end of
# that log, stops the rest and exits non-zero.
#
# Configuration: the shared config/{base,local}.toml, then services/<name>/config/{base,local}.toml;
# this script only pins what it manages itself: each service's port (the gateway's upstreams)
# and the database it creates and migrates.
# Logs: .run/logs/<name>.log; gateway logs and pid under .run/nginx/; Prometheus's rendered
# configuration and data under .run/prometheus/ (PROMETHEUS_PORT, default 9090).
set -euo pipefail
# shellcheck source=deploy/scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$LEADGEN_REPO_ROOT"
export LEADGEN_SHARED_CONFIG_DIR=$LEADGEN_REPO_ROOT/config

GATEWAY_PORT=${GATEWAY_PORT:-8080}
GATEWAY_URL=http://127.0.0.1:$GATEWAY_PORT
DATABASE_URL=postgres://postgres@127.0.0.1:5432/leadgen
SIM_ADDR=127.0.0.1:9100
PROMETHEUS_PORT=${PROMETHEUS_PORT:-9090}
PROMETHEUS_ADDR=127.0.0.1:$PROMETHEUS_PORT
# name:port, started in this order.
SERVICES=(auth-api:8081 lead-api:8082 sync-worker:8083 order-processor:8084)

BIN=$LEADGEN_REPO_ROOT/target/debug
RUN_DIR=$LEADGEN_REPO_ROOT/.run
LOG_DIR=$RUN_DIR/logs
NGINX_PREFIX=$RUN_DIR/nginx
NGINX_CONF=$NGINX_PREFIX/conf/leadgen.conf
NGINX_PID_FILE=$NGINX_PREFIX/nginx.pid
PROMETHEUS_DIR=$RUN_DIR/prometheus
PROMETHEUS_CONF=$PROMETHEUS_DIR/prometheus.yml

CHILD_NAMES=()
CHILD_PIDS=()
NGINX_STARTED=0
CLEANED_UP=0

nginx_ctl() { nginx -c "$NGINX_CONF" -p "$NGINX_PREFIX/" "$@"; }

nginx_pid() { cat "$NGINX_PID_FILE" 2>/dev/null || true; }

# Stops what this script started: nginx first (stop taking requests), then SIGTERM to every
# child, a bounded wait, and SIGKILL for whatever is left. Safe to call twice.
cleanup() {
    [ "$CLEANED_UP" -eq 0 ] || return 0
    CLEANED_UP=1
    trap '' INT TERM
    local pid i deadline
    if [ "$NGINX_STARTED" -eq 1 ]; then
        pid=$(nginx_pid)
        nginx_ctl -s quit 2>/dev/null || warn "nginx -s quit failed"
        deadline=$((SECONDS + 10))
        while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            warn "nginx did not quit in time; terminating it"
            kill -TERM "$pid" 2>/dev/null || true
        fi
    fi
    for pid in "${CHILD_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    deadline=$((SECONDS + 20))
    for i in "${!CHILD_PIDS[@]}"; do
        pid=${CHILD_PIDS[$i]}
        while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
        if kill -0 "$pid" 2>/dev/null; then
            warn "${CHILD_NAMES[$i]} did not stop within 20s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    wait 2>/dev/null || true
}

on_signal() {
    log "stopping"
    cleanup
    log "stopped (PostgreSQL and RabbitMQ keep running)"
    exit 0
}

on_exit() {
    local status=$?
    cleanup
    exit "$status"
}

trap on_signal INT TERM
trap on_exit EXIT

# show_log FILE: the end of a log, for a process that failed.
show_log() {
    log "last lines of ${1#"$LEADGEN_REPO_ROOT"/}:"
    tail -n 40 "$1" >&2 2>/dev/null || true
}

# start_child NAME COMMAND...: runs COMMAND in the background, output appended to
# .run/logs/NAME.log (an earlier run's lines stay: the message ids and trace ids a runbook
# searches for outlive a restart), after a JSON line marking this start.
start_child() {
    local name=$1
    shift
    printf '{"timestamp":"%s","level":"INFO","message":"make run starts %s","target":"run-local"}\n' \
        "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$name" >>"$LOG_DIR/$name.log"
    "$@" >>"$LOG_DIR/$name.log" 2>&1 &
    CHILD_NAMES+=("$name")
    CHILD_PIDS+=("$!")
    log "started $name (pid $!), log .run/logs/$name.log"
}

# wait_child_ready INDEX URL: until the child's URL answers 2xx; fails if it dies or times out.
wait_child_ready() {
    local i=$1 url=$2 name=${CHILD_NAMES[$1]} status=0
    wait_for_http "$url" 120 "${CHILD_PIDS[$i]}" || status=$?
    case $status in
        0) log "$name is ready" ;;
        2)
            show_log "$LOG_DIR/$name.log"
            die "$name exited during start-up"
            ;;
        *)
            show_log "$LOG_DIR/$name.log"
            die "$name is not ready at $url"
            ;;
    esac
}

"$LEADGEN_REPO_ROOT/deploy/scripts/deps.sh" --run

for port in 9100 8081 8082 8083 8084 "$PROMETHEUS_PORT" "$GATEWAY_PORT"; do
    if port_open 127.0.0.1 "$port"; then
        die "port $port is already in use; is another 'make run' still running? (a leftover gateway stops with: nginx -c .run/nginx/conf/leadgen.conf -p .run/nginx/ -s quit; another Prometheus port: PROMETHEUS_PORT=9091 make run)"
    fi
done

log "building"
cargo build --workspace --bins

ensure_database leadgen
log "migrating"
LEADGEN_CONFIG_DIR=tools/leadctl/config LEADGEN__DATABASE__URL=$DATABASE_URL "$BIN/leadctl" migrate

mkdir -p "$LOG_DIR"

start_child platform-sim "$BIN/platform-sim" --listen "$SIM_ADDR" --seed 42 --orders-per-shop 600
wait_child_ready 0 "http://$SIM_ADDR/healthz"

for entry in "${SERVICES[@]}"; do
    name=${entry%%:*}
    port=${entry##*:}
    start_child "$name" env \
        LEADGEN_CONFIG_DIR="$LEADGEN_REPO_ROOT/services/$name/config" \
        LEADGEN__HTTP__PORT="$port" \
        LEADGEN__DATABASE__URL="$DATABASE_URL" \
        "$BIN/$name"
done
for i in "${!SERVICES[@]}"; do
    port=${SERVICES[$i]##*:}
    wait_child_ready "$((i + 1))" "http://127.0.0.1:$port/readyz"
done

PROMETHEUS_ADDR=$PROMETHEUS_ADDR AUTH_API_ADDR=127.0.0.1:8081 LEAD_API_ADDR=127.0.0.1:8082 \
    SYNC_WORKER_ADDR=127.0.0.1:8083 ORDER_PROCESSOR_ADDR=127.0.0.1:8084 \
    render_prometheus "$PROMETHEUS_CONF"
start_child prometheus prometheus \
    --config.file="$PROMETHEUS_CONF" \
    --storage.tsdb.path="$PROMETHEUS_DIR/data" \
    --storage.tsdb.retention.time=7d \
    --web.listen-address="$PROMETHEUS_ADDR"
wait_child_ready "$((${#CHILD_PIDS[@]} - 1))" "http://$PROMETHEUS_ADDR/-/ready"

AUTH_API_ADDR=127.0.0.1:8081 LEAD_API_ADDR=127.0.0.1:8082 render_nginx "$NGINX_CONF" "$NGINX_PREFIX"
# nginx binds the port, then daemonizes; its pid file follows a moment later.
nginx_ctl || { show_log "$NGINX_PREFIX/logs/error.log"; die "nginx did not start"; }
NGINX_STARTED=1
deadline=$((SECONDS + 10))
until [ -n "$(nginx_pid)" ]; do
    [ "$SECONDS" -lt "$deadline" ] || die "nginx wrote no pid file to ${NGINX_PID_FILE#"$LEADGEN_REPO_ROOT"/}"
    sleep 0.2
done
wait_for_port 127.0.0.1 "$GATEWAY_PORT" 10 || die "the gateway is not up on port $GATEWAY_PORT"
log "gateway is up at $GATEWAY_URL"

TOKEN=$(LEADGEN_CONFIG_DIR=tools/leadctl/config "$BIN/leadctl" token --tenant 1 --user 7 --name 张三 \
    --perms lead:order:auth,lead:order:sync,lead:order:view,lead:order:process,lead:order:contact,lead:order:audit | tail -n 1)

cat <<EOF

The order-lead module is running behind the gateway: $GATEWAY_URL
Prometheus: http://$PROMETHEUS_ADDR (alerts: http://$PROMETHEUS_ADDR/classic/alerts, targets: http://$PROMETHEUS_ADDR/classic/targets)
Logs: .run/logs/<name>.log, gateway .run/nginx/logs/. Ctrl-C stops it all (PostgreSQL and RabbitMQ keep running).

Development token (tenant 1, user 7 张三; every permission: auth, sync, view, process, contact, audit):
$TOKEN

Try it from another shell:

export TOKEN='$TOKEN'
export API='$GATEWAY_URL/api/v1/lead-generation/orders'
# Reads one field of the JSON answer on stdin (data.platformId, data.records.0.leadId, ...).
field() { python3 -c 'import json,sys; v=json.load(sys.stdin)
for k in sys.argv[1].split("."): v=v[int(k)] if isinstance(v,list) else v[k]
print(v)' "\$1"; }
export JAR=\$(mktemp)    # curl's cookie jar: in dev and prod a consent completes only in the "browser" that created it
# 1. Create a Taobao authorization: its id, and the platform's consent page (data.authUrl).
CREATED=\$(curl -sS -c "\$JAR" -X POST "\$API/platforms/auth" -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' \\
  -d '{"platformType":"TAOBAO","authInfo":{"appKey":"sim-taobao-app","appSecret":"sim-taobao-secret"}}')
export PLATFORM_ID=\$(echo "\$CREATED" | field data.platformId) AUTH_URL=\$(echo "\$CREATED" | field data.authUrl)
# 2. Approve on the consent page and follow its redirect to our callback. Where consents are bound
#    to the browser ([oauth] bind_state_to_browser: dev and prod; a local run turns it off) the
#    callback needs the consent cookie step 1 set (curl: the jar); in a browser, create the
#    authorization from the Swagger UI (\$API/docs), open its authUrl, then click 授权并登录.
curl -sS "\$AUTH_URL"    # the consent form
CALLBACK=\$(curl -sS -b "\$JAR" "\$(curl -sS -o /dev/null -w '%{redirect_url}' -d '' "\$AUTH_URL")")    # approve, then follow to the callback
echo "\$CALLBACK"; export PLATFORM_ID=\$(echo "\$CALLBACK" | field data.platformId)
#    Other platforms: "platformType" JD, PDD, DOUYIN or KUAISHOU with appKey sim-<platform>-app and
#    appSecret sim-<platform>-secret (Kuaishou also "signSecret":"sim-kuaishou-sign-secret" in authInfo,
#    Douyin "serviceId":"sim-douyin-app").
#    Connecting the same shop again renews its first record: the callback answers that record's
#    platformId (the one steps 4 and 5 use); the id step 1 answered stays an alias of it in paths.
# 3. List the platforms (ACTIVE after step 2).
curl -sS "\$API/platforms" -H "Authorization: Bearer \$TOKEN"
# 4. Sync it. (A shop connected for the first time is already being backfilled: 40901 until that ends.)
curl -sS -X POST "\$API/platforms/\$PLATFORM_ID/sync" -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' -d '{}'
# 5. Wait until its newest sync record has ended, and read them.
until curl -sS "\$API/sync-records?platformId=\$PLATFORM_ID" -H "Authorization: Bearer \$TOKEN" | field data.records.0.status | grep -qv RUNNING; do sleep 1; done
curl -sS "\$API/sync-records?platformId=\$PLATFORM_ID" -H "Authorization: Bearer \$TOKEN"
# 6. List the leads (one per buyer; processing takes a few seconds more); open the first (its version is the ETag).
curl -sS "\$API/leads" -H "Authorization: Bearer \$TOKEN"
export LEAD_ID=\$(curl -sS "\$API/leads" -H "Authorization: Bearer \$TOKEN" | field data.records.0.leadId)
curl -sS -i "\$API/leads/\$LEAD_ID" -H "Authorization: Bearer \$TOKEN"
export VERSION=\$(curl -sS "\$API/leads/\$LEAD_ID" -H "Authorization: Bearer \$TOKEN" | field data.version)
# 7. Mark it handled (If-Match: its version), reveal its number for a call, read the audit trail.
curl -sS -X PATCH "\$API/leads/\$LEAD_ID" -H "Authorization: Bearer \$TOKEN" -H "If-Match: \\"\$VERSION\\"" -H 'Content-Type: application/json' -d '{"processStatus":"PROCESSED","note":"已回访"}'
curl -sS -X POST "\$API/leads/\$LEAD_ID/contact/reveal" -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' -d '{"purpose":"FULFILMENT"}'
curl -sS "\$API/operation-logs" -H "Authorization: Bearer \$TOKEN"
# The whole API: \$API/docs (OpenAPI: \$API/openapi.json)

EOF

log "running; Ctrl-C to stop"
while true; do
    for i in "${!CHILD_PIDS[@]}"; do
        if ! kill -0 "${CHILD_PIDS[$i]}" 2>/dev/null; then
            status=0
            wait "${CHILD_PIDS[$i]}" 2>/dev/null || status=$?
            # Exit 0 is a graceful stop (Ctrl-C reaches the whole process group, sometimes
            # before this script's own trap runs): stop the rest the same way.
            if [ "$status" -eq 0 ]; then
                log "${CHILD_NAMES[$i]} stopped"
                on_signal
            fi
            show_log "$LOG_DIR/${CHILD_NAMES[$i]}.log"
            die "${CHILD_NAMES[$i]} exited with status $status"
        fi
    done
    pid=$(nginx_pid)
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
        show_log "$NGINX_PREFIX/logs/error.log"
        die "nginx exited"
    fi
    # In the background so that a signal is handled at once, not after the sleep.
    sleep 1 &
    wait $! || true
done
