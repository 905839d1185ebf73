#!/usr/bin/env bash
# Offline checks of the Prometheus setup with promtool (Debian's prometheus package; installed by
# deploy/scripts/deps.sh, or here when missing and run as root): the configuration `make run`
# renders (render_prometheus, with the rules it loads), alerts.yml, and the alerts' unit tests
# alerts.test.yml. `--self-test` then breaks copies of alerts.yml in plausible ways and fails
# unless the unit tests catch every break. Exits non-zero on any failure; about a second.
set -euo pipefail
# shellcheck source=deploy/scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
HERE=$LEADGEN_REPO_ROOT/deploy/prometheus

SELF_TEST=0
for arg in "$@"; do
    case $arg in
        --self-test) SELF_TEST=1 ;;
        -h | --help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "deploy/prometheus/check.sh: unknown argument $arg (only --self-test)" >&2; exit 2 ;;
    esac
done

ensure_prometheus
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# ---- The configuration of `make run`, rendered with its defaults (it loads alerts.yml too).
render_prometheus "$TMP/prometheus.yml"
promtool check config "$TMP/prometheus.yml"

# ---- The rules and their unit tests.
promtool check rules "$HERE/alerts.yml"
promtool test rules "$HERE/alerts.test.yml"

# ---- Every alert is named in the README's list (operators read that list first).
UNLISTED=()
while read -r name; do
    grep -q "\`$name\`" "$LEADGEN_REPO_ROOT/README.md" || UNLISTED+=("$name")
done < <(sed -n 's/^ *- alert: *\([A-Za-z0-9_]*\).*/\1/p' "$HERE/alerts.yml")
if [ "${#UNLISTED[@]}" -gt 0 ]; then
    echo "deploy/prometheus/check.sh: alerts missing from README.md's list of alert rules: ${UNLISTED[*]}" >&2
    exit 1
fi

[ "$SELF_TEST" -eq 1 ] || exit 0

# ---- Self-test: each break below must make `promtool test rules` fail.
MISSED=()
BREAKS=0

# mutant LABEL OLD NEW: alerts.yml with its one OLD replaced by NEW, still valid rules.
mutant() {
    local label=$1 old=$2 new=$3 content rest dir
    BREAKS=$((BREAKS + 1))
    dir=$TMP/mutant-$BREAKS
    mkdir -p "$dir"
    content=$(<"$HERE/alerts.yml")
    rest=${content#*"$old"}
    if [[ $rest == "$content" || $rest == *"$old"* ]]; then
        MISSED+=("$label: alerts.yml no longer holds exactly one \"$old\"; update the self-test")
        return 0
    fi
    printf '%s\n' "${content/"$old"/"$new"}" >"$dir/alerts.yml"
    cp "$HERE/alerts.test.yml" "$dir/"
    if ! promtool check rules "$dir/alerts.yml" >"$dir/check.log" 2>&1; then
        MISSED+=("$label: the broken rules are not even valid (fix the self-test): $(tail -n 3 "$dir/check.log")")
    elif promtool test rules "$dir/alerts.test.yml" >"$dir/test.log" 2>&1; then
        MISSED+=("$label: the unit tests still pass")
    else
        echo "  self-test: $label: caught"
    fi
}

mutant "LeadgenTokenStoreFailing on a rate that rounds a single failure away" \
    'sum by (namespace, service) (increase(leadgen_token_store_failures_total[15m])) > 0' \
    'sum by (namespace, service) (increase(leadgen_token_store_failures_total[15m])) > 1'
mutant "LeadgenOutboxStale threshold 50 minutes" \
    '(leadgen_outbox_oldest_age_seconds) > 300' '(leadgen_outbox_oldest_age_seconds) > 3000'
mutant "LeadgenOutboxStale fires on a short spike (no for)" 'for: 5m' 'for: 0m'
mutant "LeadgenOutboxStale is critical no more" \
    $'for: 5m\n        labels:\n          severity: critical' $'for: 5m\n        labels:\n          severity: warning'
mutant "LeadgenDependencyDown fires on one failed check" \
    $'(leadgen_dependency_up) == 0\n        for: 2m' $'(leadgen_dependency_up) == 0\n        for: 0m'
mutant "LeadgenTargetDown on every target" 'up{app_kubernetes_io_part_of="leadgen"} == 0' 'up == 0'
mutant "LeadgenTargetDown on the job of \`make run\` only" \
    'up{app_kubernetes_io_part_of="leadgen"} == 0' 'up{job="leadgen"} == 0'
mutant "LeadgenHttpErrors without its traffic floor" \
    $'> 0.05\n          and sum by (namespace, service) (rate(http_server_requests_total{route!~"/healthz|/readyz|/metrics"}[5m])) > 1 / 60' \
    '> 0.05'
mutant "LeadgenHttpErrors counts probes' 5xx (a failing /readyz)" \
    'http_server_requests_total{route!~"/healthz|/readyz|/metrics", status=~"5.."}' \
    'http_server_requests_total{status=~"5.."}'
mutant "LeadgenHttpErrors divides by probes and scrapes too" \
    $'http_server_requests_total{route!~"/healthz|/readyz|/metrics"}[5m]))\n          ) > 0.05' \
    $'http_server_requests_total[5m]))\n          ) > 0.05'
mutant "LeadgenHttpErrors's traffic floor counts probes and scrapes" \
    'and sum by (namespace, service) (rate(http_server_requests_total{route!~"/healthz|/readyz|/metrics"}[5m])) > 1 / 60' \
    'and sum by (namespace, service) (rate(http_server_requests_total[5m])) > 1 / 60'
mutant "LeadgenHttpErrors counts probes and scrapes everywhere" \
    '{route!~"/healthz|/readyz|/metrics", status=~"5.."}[5m]))
            /
              sum by (namespace, service) (rate(http_server_requests_total{route!~"/healthz|/readyz|/metrics"}[5m]))
          ) > 0.05
          and sum by (namespace, service) (rate(http_server_requests_total{route!~"/healthz|/readyz|/metrics"}[5m]))' \
    '{status=~"5.."}[5m]))
            /
              sum by (namespace, service) (rate(http_server_requests_total[5m]))
          ) > 0.05
          and sum by (namespace, service) (rate(http_server_requests_total[5m]))'
mutant "LeadgenDeadLetters misses a counter's first appearance" \
    '(leadgen_messages_dead_lettered_total unless leadgen_messages_dead_lettered_total offset 15m)' \
    '(leadgen_messages_dead_lettered_total unless leadgen_messages_dead_lettered_total)'
mutant "LeadgenDeadLetters counts an hour" \
    'increase(leadgen_messages_dead_lettered_total[15m])' 'increase(leadgen_messages_dead_lettered_total[1h])'
mutant "LeadgenDeadLetters on the raw counter (old dead letters)" \
    'increase(leadgen_messages_dead_lettered_total[15m])' 'leadgen_messages_dead_lettered_total'
mutant "LeadgenDeadLetters with delta (blind to a restart)" \
    'increase(leadgen_messages_dead_lettered_total[15m])' 'delta(leadgen_messages_dead_lettered_total[15m])'
mutant "LeadgenDeadLetters without its runbook step" '运行 `leadctl dlq list`，' '运行 '
mutant "LeadgenDeadLettersWaiting sums the replicas" \
    'max by (namespace, queue) (max_over_time(leadgen_dead_letter_messages' 'sum by (namespace, queue) (max_over_time(leadgen_dead_letter_messages'
mutant "LeadgenDeadLettersWaiting starts again when a dlq show hides the dead letters" \
    'max by (namespace, queue) (max_over_time(leadgen_dead_letter_messages[10m]))' 'max by (namespace, queue) (leadgen_dead_letter_messages)'
mutant "LeadgenDeadLettersWaiting fires at once" \
    $'(leadgen_dead_letter_messages[10m])) > 0\n        for: 2h' $'(leadgen_dead_letter_messages[10m])) > 0\n        for: 0m'
mutant "LeadgenDeadLettersWaiting after a day" \
    $'(leadgen_dead_letter_messages[10m])) > 0\n        for: 2h' $'(leadgen_dead_letter_messages[10m])) > 0\n        for: 24h'
mutant "LeadgenConsumerStalled also for a busy queue" \
    $'(max by (namespace, queue) (leadgen_queue_messages) > 0)\n          unless on (namespace, queue)' \
    $'(max by (namespace, queue) (leadgen_queue_messages) > 0)\n          or on (namespace, queue)'
mutant "LeadgenConsumerStalled matches the environments' queues by name alone" \
    $'(max by (namespace, queue) (leadgen_queue_messages) > 0)\n          unless on (namespace, queue)' \
    $'(max by (namespace, queue) (leadgen_queue_messages) > 0)\n          unless on (queue)'
mutant "LeadgenConsumerStalled fires at once" \
    $'(sum by (namespace, queue) (rate(leadgen_messages_acked_total[15m])) > 0)\n        for: 15m' \
    $'(sum by (namespace, queue) (rate(leadgen_messages_acked_total[15m])) > 0)\n        for: 0m'
mutant "LeadgenDeadLettersUncounted also for counted dead letters" \
    $') > 0\n          )\n          unless on (namespace, queue)\n          (sum by (namespace, queue) (rate(leadgen_messages_dead_lettered_total' \
    $') > 0\n          )\n          or on (namespace, queue)\n          (sum by (namespace, queue) (rate(leadgen_messages_dead_lettered_total'
mutant "LeadgenDeadLettersUncounted on the queue's size, not its growth" \
    $'\n              - max_over_time(leadgen_dead_letter_messages[5m] offset 15m)' ''
mutant "LeadgenDeadLettersUncounted on raw samples (a dlq show's moment reads as growth)" \
    $'max_over_time(leadgen_dead_letter_messages[5m])\n              - max_over_time(leadgen_dead_letter_messages[5m] offset 15m)' \
    'delta(leadgen_dead_letter_messages[15m])'
mutant "LeadgenSyncsFailing on every finished task" \
    'increase(leadgen_sync_tasks_finished_total{status="FAILED", cause!="authorization"}[30m])' \
    'increase(leadgen_sync_tasks_finished_total[30m])'
mutant "LeadgenSyncsFailing misses a platform's first failure" \
    'unless leadgen_sync_tasks_finished_total{status="FAILED", cause!="authorization"} offset 30m)' \
    'unless leadgen_sync_tasks_finished_total{status="FAILED", cause!="authorization"})'
mutant "LeadgenSyncsFailing pages for shops whose merchants must authorize again" \
    'increase(leadgen_sync_tasks_finished_total{status="FAILED", cause!="authorization"}[30m])' \
    'increase(leadgen_sync_tasks_finished_total{status="FAILED"}[30m])'
mutant "LeadgenSyncsFailing looks back 15 minutes" \
    'increase(leadgen_sync_tasks_finished_total{status="FAILED", cause!="authorization"}[30m])' \
    'increase(leadgen_sync_tasks_finished_total{status="FAILED", cause!="authorization"}[15m])'
mutant "LeadgenSyncsFailing lets a restart hide a failure (the new series wins)" \
    '[30m]), "branch", "increase", "", "")' '[30m]), "branch", "new", "", "")'
mutant "LeadgenShopsExpired without its hour" \
    $'status=~"EXPIRED|INVALID"}) > 0\n        for: 1h' $'status=~"EXPIRED|INVALID"}) > 0\n        for: 0m'
mutant "LeadgenShopsExpired sums the replicas" 'max by (namespace, platform, status)' 'sum by (namespace, platform, status)'
mutant "LeadgenShopsExpired on every status" \
    'leadgen_shops{status=~"EXPIRED|INVALID"}' 'leadgen_shops'

mutant "LeadgenShopSyncBehind without its 15 minutes" \
    $'(leadgen_sync_watermark_lag_seconds) > 7200\n        for: 15m' $'(leadgen_sync_watermark_lag_seconds) > 7200\n        for: 0m'
mutant "LeadgenShopSyncBehind sums the replicas" \
    'max by (namespace, platform) (leadgen_sync_watermark_lag_seconds)' 'sum by (namespace, platform) (leadgen_sync_watermark_lag_seconds)'

mutant "LeadgenOrdersNotProcessed sums the replicas" \
    'max by (namespace) (leadgen_raw_orders_pending_oldest_age_seconds)' 'sum by (namespace) (leadgen_raw_orders_pending_oldest_age_seconds)'
mutant "LeadgenOrdersNotProcessed fires on a backfill's wait" \
    'for: 10m # longer than a large backfill' 'for: 0m # longer than a large backfill'
mutant "LeadgenOrdersNotProcessed after five hours" '> 1800' '> 18000'

mutant "LeadgenPurgeFailing sums the replicas" \
    'max by (namespace) (leadgen_retention_purges_failing)' 'sum by (namespace) (leadgen_retention_purges_failing)'
mutant "LeadgenPurgeFailing only for two shops" \
    'max by (namespace) (leadgen_retention_purges_failing) > 0' 'max by (namespace) (leadgen_retention_purges_failing) > 1'
mutant "LeadgenPurgeFailing fires on a failure retried on the next pass" \
    'for: 2h # longer than a retry on the next hourly pass' 'for: 30m # longer than a retry on the next hourly pass'
mutant "LeadgenPurgeFailing after six hours" \
    'for: 2h # longer than a retry on the next hourly pass' 'for: 6h # longer than a retry on the next hourly pass'
mutant "LeadgenPurgeOverdue sums the replicas" \
    'max by (namespace) (leadgen_retention_purge_overdue_seconds)' 'sum by (namespace) (leadgen_retention_purge_overdue_seconds)'
mutant "LeadgenPurgeOverdue after a week" \
    'max by (namespace) (leadgen_retention_purge_overdue_seconds) > 86400' 'max by (namespace) (leadgen_retention_purge_overdue_seconds) > 604800'
mutant "LeadgenPurgeOverdue fires while a late purge catches up" \
    'for: 1h # a late purge catching up' 'for: 0m # a late purge catching up'

for line in "${MISSED[@]}"; do
    echo "FAIL self-test $line"
done
[ "${#MISSED[@]}" -eq 0 ] || exit 1
echo "prometheus check self-test: all $BREAKS breaks of alerts.yml were caught"
