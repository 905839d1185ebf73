#!/usr/bin/env bash
# Offline checks of the deployment: lints the Dockerfile (hadolint), renders every kustomization
# and validates it (k8s/check.py: Kubernetes and KEDA schemas, security policy, wiring, Ingress
# routes against the nginx template). `k8s/check.sh --self-test` also proves that broken copies
# fail. The tools come from PyPI into .run/k8s-venv the first time (k8s/requirements.txt); after
# that nothing is fetched.
#
# Renderer: `kubectl kustomize` (kubectl's built-in kustomize), else a standalone `kustomize
# build`, else kubectl from the distribution's packages (apt-get, when run as root); otherwise
# it stops and says so. Override with K8S_CHECK_KUSTOMIZE='<command> <args>'.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SELF_TEST=()
for arg in "$@"; do
    case $arg in
        --self-test) SELF_TEST=(--self-test) ;;
        -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "k8s/check.sh: unknown argument $arg (only --self-test)" >&2; exit 2 ;;
    esac
done

# ---- Python tools, in a venv of their own.
VENV=.run/k8s-venv
STAMP=$VENV/.requirements.sha256
want=$(sha256sum k8s/requirements.txt | cut -d' ' -f1)
if [[ ! -x $VENV/bin/python || ! -f $STAMP || $(cat "$STAMP") != "$want" ]]; then
    echo "k8s/check.sh: installing k8s/requirements.txt into $VENV" >&2
    mkdir -p .run
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r k8s/requirements.txt
    echo "$want" > "$STAMP"
fi

# ---- Renderer.
if [[ -n ${K8S_CHECK_KUSTOMIZE:-} ]]; then
    KUSTOMIZE=$K8S_CHECK_KUSTOMIZE
elif command -v kubectl > /dev/null 2>&1; then
    KUSTOMIZE="kubectl kustomize"
elif command -v kustomize > /dev/null 2>&1; then
    KUSTOMIZE="kustomize build"
elif [[ $(id -u) == 0 ]] && command -v apt-get > /dev/null 2>&1 \
        && { apt-get install -y -qq kubectl > /dev/null 2>&1 \
             || { apt-get update -qq > /dev/null 2>&1 && apt-get install -y -qq kubectl > /dev/null 2>&1; }; } \
        && command -v kubectl > /dev/null 2>&1; then
    KUSTOMIZE="kubectl kustomize"
else
    echo "k8s/check.sh: no kustomize renderer: install kubectl (it carries kustomize) or" \
         "kustomize, or set K8S_CHECK_KUSTOMIZE" >&2
    exit 1
fi

# ---- Dockerfile lint (.hadolint.yaml holds the settings).
"$VENV/bin/hadolint" --config .hadolint.yaml Dockerfile
echo "hadolint: Dockerfile clean ($("$VENV/bin/hadolint" --version))"

# ---- Manifests.
exec "$VENV/bin/python" k8s/check.py --kustomize "$KUSTOMIZE" "${SELF_TEST[@]}"
