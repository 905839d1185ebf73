#!/usr/bin/env bash
# Offline checks of the deployment: lints the Dockerfile (hadolint), renders every kustomization
# and validates it (k8s/check.py: Kubernetes and KEDA schemas, security policy, wiring, Ingress
# routes against the nginx template). `k8s/check.sh --self-test` also proves that broken copies
# fail. The tools come from PyPI into .run/k8s-venv the first time (k8s/requirements.txt); after
# that nothing is fetched.
#
# Renderer: `kubectl kustomize` when kubectl carries kustomize v5 or newer, else a standalone
# `kustomize build` (v5 or newer), else k8s/render.py, a small renderer of the kustomize
# features these kustomizations use (Debian bookworm's kubectl 1.20 carries a kustomize that
# cannot render components, and no distribution or PyPI package has a newer one). When a
# kustomize renders, k8s/render.py renders every kustomization too and must produce the same
# objects. Override with K8S_CHECK_KUSTOMIZE='<command> <args>' (compared with k8s/render.py,
# or with the installed kustomize when the override is k8s/render.py).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=deploy/scripts/lib.sh
source deploy/scripts/lib.sh

SELF_TEST=()
for arg in "$@"; do
    case $arg in
        --self-test) SELF_TEST=(--self-test) ;;
        -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "k8s/check.sh: unknown argument $arg (only --self-test)" >&2; exit 2 ;;
    esac
done

# ---- Python tools, in a venv of their own (deploy/scripts/lib.sh: ensure_tools_venv; on Debian
# `python3 -m venv` needs python3-venv, which `make deps` installs).
ensure_tools_venv
VENV=$LEADGEN_TOOLS_VENV

# ---- Renderer.
# A kustomize that renders these kustomizations: v5 or newer (lib.sh's find_kustomize_v5, which
# deploy/scripts/k8s-deploy.sh uses too).
RENDER_PY="$VENV/bin/python k8s/render.py"
find_kustomize_v5
if [[ -n ${K8S_CHECK_KUSTOMIZE:-} ]]; then
    KUSTOMIZE=$K8S_CHECK_KUSTOMIZE
    if [[ $KUSTOMIZE == *render.py* ]]; then COMPARE=$KUSTOMIZE_V5; else COMPARE=$RENDER_PY; fi
    echo "renderer: $KUSTOMIZE (K8S_CHECK_KUSTOMIZE)${COMPARE:+, compared with $COMPARE}"
elif [[ -n $KUSTOMIZE_V5 ]]; then
    KUSTOMIZE=$KUSTOMIZE_V5 COMPARE=$RENDER_PY
    echo "renderer: $KUSTOMIZE (kustomize $KUSTOMIZE_VERSION), compared with k8s/render.py"
else
    KUSTOMIZE=$RENDER_PY COMPARE=""
    echo "renderer: k8s/render.py ($KUSTOMIZE_WHY_NOT; with" \
         "kubectl 1.27+ or kustomize v5+ the check renders with kustomize and compares)"
fi

# ---- Dockerfile lint (.hadolint.yaml holds the settings).
"$VENV/bin/hadolint" --config .hadolint.yaml Dockerfile
echo "hadolint: Dockerfile clean ($("$VENV/bin/hadolint" --version))"

# ---- Manifests. The venv first on PATH: K8S_CHECK_KUSTOMIZE='python3 k8s/render.py' then
# finds PyYAML.
COMPARE_ARGS=()
[[ -n $COMPARE ]] && COMPARE_ARGS=(--compare "$COMPARE")
PATH="$PWD/$VENV/bin:$PATH" exec "$VENV/bin/python" k8s/check.py --kustomize "$KUSTOMIZE" \
    "${COMPARE_ARGS[@]}" "${SELF_TEST[@]}"
