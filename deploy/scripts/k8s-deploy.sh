#!/usr/bin/env bash
# Deploys one overlay of k8s/ at one image tag: the migration Job first, awaited, then the
# services, then waits for their rollouts. The image must have been pushed (deploy/README.md).
#
#   deploy/scripts/k8s-deploy.sh <overlay> <image tag> [--dry-run]
#   deploy/scripts/k8s-deploy.sh prod 3f2c9e1
#
# --dry-run renders both kustomizations at that tag into .run/k8s-deploy/<overlay>/ and prints
# what would be applied, touching no cluster. Uses the current kubectl context.
# The Secret `leadgen-secrets` must exist in the namespace first (k8s/README.md): the script
# checks it before anything is applied. A migration pod that cannot start (a Secret key
# missing, an image that cannot be pulled) fails the deploy after STUCK_GRACE_SECS (30)
# instead of the whole MIGRATION_TIMEOUT_SECS (900).
# Renders with kustomize v5 or newer (the overlays use components): `kubectl kustomize` of
# kubectl 1.27+, else a standalone `kustomize build` v5+; without one it stops before rendering.
set -euo pipefail
# shellcheck source=deploy/scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$LEADGEN_REPO_ROOT"

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[[ $# -ge 2 ]] || usage
OVERLAY=$1 TAG=$2 DRY_RUN=${3:-}
[[ -z $DRY_RUN || $DRY_RUN == --dry-run ]] || usage
[[ -f k8s/overlays/$OVERLAY/kustomization.yaml ]] || { echo "no overlay k8s/overlays/$OVERLAY" >&2; exit 2; }
[[ $TAG =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ && $TAG != latest ]] \
    || { echo "image tag '$TAG': give the release's git SHA" >&2; exit 2; }
MIGRATION_TIMEOUT_SECS=${MIGRATION_TIMEOUT_SECS:-900}
STUCK_GRACE_SECS=${STUCK_GRACE_SECS:-30}
ROLLOUT_TIMEOUT=${ROLLOUT_TIMEOUT:-10m}

# The tools, before anything is rendered. An older kustomize (kubectl before 1.27, such as
# Debian bookworm's 1.20) fails on the overlays' components or renders them differently; the
# probe is k8s/check.sh's (lib.sh: find_kustomize_v5).
find_kustomize_v5
[[ -n $KUSTOMIZE_V5 ]] \
    || die "kustomize v5 or newer is needed ($KUSTOMIZE_WHY_NOT): install kubectl 1.27+ or a standalone kustomize v5+; nothing was rendered or applied"
[[ $DRY_RUN == --dry-run ]] || command -v kubectl >/dev/null \
    || die "kubectl is missing: it applies the rendered manifests; nothing was rendered or applied"
read -r -a KUSTOMIZE <<<"$KUSTOMIZE_V5"
log "rendering with $KUSTOMIZE_V5 (kustomize $KUSTOMIZE_VERSION)"

# A layer over each kustomization that sets the tag. kustomize accepts only relative roots, so
# the layer lives in the repository (.run/ is ignored by git).
WORK=.run/k8s-deploy/$OVERLAY
image=$("${KUSTOMIZE[@]}" "k8s/overlays/$OVERLAY" | awk '$1 == "image:" { print $2; exit }')
image_name=${image%:*}
for part in app migrate; do
    src=k8s/overlays/$OVERLAY
    [[ $part == migrate ]] && src=$src/migrate
    mkdir -p "$WORK/$part"
    cat > "$WORK/$part/kustomization.yaml" <<EOF
# Written by deploy/scripts/k8s-deploy.sh: $src at $TAG.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../../../$src
images:
  - name: $image_name
    newTag: "$TAG"
EOF
    "${KUSTOMIZE[@]}" "$WORK/$part" > "$WORK/$part.yaml"
done
namespace=$(awk '$1 == "kind:" && $2 == "Namespace" { ns = 1 } ns && $1 == "name:" { print $2; exit }' "$WORK/app.yaml")
deployments=$(awk '$1 == "kind:" { kind = $2 } kind == "Deployment" && /^  name:/ { print $2 }' "$WORK/app.yaml")

echo "overlay $OVERLAY, namespace $namespace, image $image_name:$TAG"
echo "1. migration Job ($WORK/migrate.yaml), awaited up to ${MIGRATION_TIMEOUT_SECS}s"
echo "2. services ($WORK/app.yaml): $(echo "$deployments" | tr '\n' ' ')"
# The committed overlays name example hosts (example.com): a deployment that still holds one
# would send merchants' OAuth consents, and the front end's redirects, to nobody. Refused
# before anything is applied (shown, not refused, by a dry run).
placeholders=$(grep -ho '[A-Za-z0-9.-]*example\.com' "$WORK/app.yaml" "$WORK/migrate.yaml" | sort -u | tr '\n' ' ' || true)
if [[ $DRY_RUN == --dry-run ]]; then
    [[ -z $placeholders ]] || echo "note: still example hosts, which a real deploy refuses: $placeholders"
    echo "dry run: nothing applied"
    exit 0
fi
if [[ -n $placeholders ]]; then
    echo "overlay $OVERLAY still names example hosts ($placeholders): set the real ones (the" >&2
    echo "Ingress host, [oauth] callback_url and allowed_redirect_origins in k8s/overlays/$OVERLAY/); nothing was applied" >&2
    exit 1
fi

# 0. The Secret every pod reads its keys from: without it the migration pod would wait in
# CreateContainerConfigError.
if ! err=$(kubectl -n "$namespace" get secret leadgen-secrets -o name 2>&1 >/dev/null); then
    echo "cannot read Secret leadgen-secrets in namespace $namespace: ${err:-not found}" >&2
    echo "create the namespace and the Secret first (k8s/README.md, \"Deploying\"); nothing was applied" >&2
    exit 1
fi

# 1. The migration. A Job's pod template cannot change: remove the previous release's first.
kubectl -n "$namespace" delete job leadgen-migrate --ignore-not-found --wait=true
kubectl apply -f "$WORK/migrate.yaml"
job_uid=$(kubectl -n "$namespace" get job leadgen-migrate -o jsonpath='{.metadata.uid}')
deadline=$((SECONDS + MIGRATION_TIMEOUT_SECS))
stuck_since=""
while :; do
    state=$(kubectl -n "$namespace" get job leadgen-migrate \
        -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type}{" "}{end}')
    case " $state " in
        *" Complete "*) echo "migration complete"; break ;;
        *" Failed "*)
            kubectl -n "$namespace" logs job/leadgen-migrate --tail=50 >&2 || true
            echo "migration failed: the services were not touched" >&2
            exit 1 ;;
    esac
    # A pod that cannot start never fails the Job by itself: its container waits with a reason
    # (the Secret or one of its keys missing, the image not pullable) until the Job's deadline.
    waiting=$(kubectl -n "$namespace" get pods -l "batch.kubernetes.io/controller-uid=$job_uid" \
        -o jsonpath='{range .items[*]}{range .status.containerStatuses[*]}{.state.waiting.reason}{": "}{.state.waiting.message}{"\n"}{end}{end}' \
        2>/dev/null | grep -E '^(CreateContainerConfigError|CreateContainerError|ErrImagePull|ImagePullBackOff|InvalidImageName):' || true)
    if [[ -z $waiting ]]; then
        stuck_since=""
    elif [[ -z $stuck_since ]]; then
        stuck_since=$SECONDS
    elif ((SECONDS - stuck_since >= STUCK_GRACE_SECS)); then
        echo "the migration pod cannot start (for ${STUCK_GRACE_SECS}s):" >&2
        sed 's/^/  /' <<<"$waiting" >&2
        echo "migration not run: the services were not touched (the Job stays for" \
             "\`kubectl -n $namespace describe job leadgen-migrate\`; the next deploy replaces it)" >&2
        exit 1
    fi
    if ((SECONDS > deadline)); then
        echo "migration still running after ${MIGRATION_TIMEOUT_SECS}s: the services were not touched" >&2
        exit 1
    fi
    sleep 3
done

# 2. The services, then their rollouts.
kubectl apply -f "$WORK/app.yaml"
for d in $deployments; do
    kubectl -n "$namespace" rollout status "deployment/$d" --timeout="$ROLLOUT_TIMEOUT"
done
echo "deployed $image_name:$TAG to $namespace"
