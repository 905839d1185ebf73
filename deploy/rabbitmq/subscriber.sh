#!/usr/bin/env bash
# Gives another team a RabbitMQ user that can subscribe to the lead events and do nothing else:
# declare and consume its own queues and exchanges (named `<team>.…`), bind them to
# `<prefix>.events` with routing keys that begin `lead.` or `platform.` only (topic permissions:
# keys have three words, `lead.updated.v1`; bind exact keys or `lead.#`, as `lead.*` matches none), and
# publish nowhere on this module's exchanges (so it can neither start syncs nor forge events for
# other teams). A policy bounds the team's queues (`<team>-limits`: at most --max-bytes each,
# default 1 GiB, the oldest messages dropped first; priority 100, above a cluster's catch-all
# policies, as RabbitMQ applies one policy per queue): a queue nobody consumes cannot fill the
# broker's disk and stop it taking the module's events.
#
#   deploy/rabbitmq/subscriber.sh --team crm [--prefix leadgen] [--vhost /] [--max-bytes N]
#   deploy/rabbitmq/subscriber.sh --team crm --revoke [--delete-queues]
#
# --revoke deletes the user; its queues stay (bounded) unless --delete-queues, which deletes
# every `<team>.…` queue and the policy.
# The password comes from LEADGEN_SUBSCRIBER_PASSWORD; without it a new user gets a random one,
# printed once on stdout (an existing user keeps its own). Runs `rabbitmqctl` on this host, or
# the command in RABBITMQCTL (e.g. "kubectl exec -i rabbitmq-0 -- rabbitmqctl"). Idempotent.
set -euo pipefail

TEAM="" PREFIX=leadgen VHOST=/ REVOKE=0 DELETE_QUEUES=0 MAX_BYTES=1073741824
while [ $# -gt 0 ]; do
    case $1 in
        --team) TEAM=${2:-}; shift 2 ;;
        --prefix) PREFIX=${2:-}; shift 2 ;;
        --vhost) VHOST=${2:-}; shift 2 ;;
        --revoke) REVOKE=1; shift ;;
        --delete-queues) DELETE_QUEUES=1; shift ;;
        --max-bytes) MAX_BYTES=${2:-}; shift 2 ;;
        -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "subscriber.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
# A team name is also a regular-expression prefix below: letters, digits and dashes only.
if ! [[ $TEAM =~ ^[a-z][a-z0-9-]{1,40}$ ]]; then
    echo "subscriber.sh: --team must be 2-41 lowercase letters, digits or dashes, starting with a letter" >&2
    exit 2
fi
if ! [[ $PREFIX =~ ^[A-Za-z0-9._-]+$ ]] || [ "$TEAM" = "$PREFIX" ]; then
    echo "subscriber.sh: --prefix must be the module's amqp.prefix, other than the team" >&2
    exit 2
fi
if ! [[ $MAX_BYTES =~ ^[1-9][0-9]{0,15}$ ]]; then
    echo "subscriber.sh: --max-bytes must be a positive number of bytes" >&2
    exit 2
fi
read -r -a CTL <<<"${RABBITMQCTL:-rabbitmqctl}"
ctl() { "${CTL[@]}" -q "$@"; }

escape() { printf '%s' "$1" | sed 's/[.]/\\./g'; }
team_re="^$(escape "$TEAM")\\."
events=$(escape "$PREFIX.events")

if [ "$REVOKE" -eq 1 ]; then
    if ctl list_users --no-table-headers | awk '{print $1}' | grep -qx "$TEAM"; then
        ctl delete_user "$TEAM" >/dev/null
        echo "subscriber.sh: user $TEAM deleted" >&2
    fi
    if [ "$DELETE_QUEUES" -eq 1 ]; then
        ctl list_queues -p "$VHOST" name --no-table-headers | { grep -E "$team_re" || true; } |
            while read -r queue; do
                ctl delete_queue -p "$VHOST" "$queue" >/dev/null
                echo "subscriber.sh: queue $queue deleted" >&2
            done
        ctl clear_policy -p "$VHOST" "$TEAM-limits" >/dev/null 2>&1 || true
    else
        # Bounded, also for a team given its user before the policy existed.
        ctl set_policy -p "$VHOST" --priority 100 --apply-to queues "$TEAM-limits" "$team_re" \
            "{\"max-length-bytes\": $MAX_BYTES}" >/dev/null
        echo "subscriber.sh: its queues stay, bounded by the policy $TEAM-limits (--delete-queues deletes them)" >&2
    fi
    exit 0
fi

if ctl list_users --no-table-headers | awk '{print $1}' | grep -qx "$TEAM"; then
    if [ -n "${LEADGEN_SUBSCRIBER_PASSWORD:-}" ]; then
        printf '%s' "$LEADGEN_SUBSCRIBER_PASSWORD" | ctl change_password "$TEAM" >/dev/null
    fi
else
    password=${LEADGEN_SUBSCRIBER_PASSWORD:-}
    if [ -z "$password" ]; then
        password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 32)
        echo "$password"
    fi
    printf '%s' "$password" | ctl add_user "$TEAM" >/dev/null
fi
# configure: its own queues and exchanges; write: binding its own queues, dead-lettering into
# its own exchange; read: consuming its own queues and binding to the events exchange.
ctl set_permissions -p "$VHOST" "$TEAM" "$team_re" "$team_re" "^(${team_re#^}.*|${events})\$" >/dev/null
# On the events exchange: bind keys that begin `lead.` or `platform.` only (the module's own commands
# stay internal), publish none.
ctl set_topic_permissions -p "$VHOST" "$TEAM" "$PREFIX.events" '^$' '^(lead|platform)\.' >/dev/null
# Its queues bounded, whatever they declare (a lower x-max-length-bytes of their own still wins).
ctl set_policy -p "$VHOST" --priority 100 --apply-to queues "$TEAM-limits" "$team_re" \
    "{\"max-length-bytes\": $MAX_BYTES}" >/dev/null
echo "subscriber.sh: $TEAM may bind its own queues ($TEAM.*) to $PREFIX.events with keys that begin lead. or platform. (exact keys or lead.#) in vhost $VHOST" >&2
