#!/usr/bin/env python3
"""Offline checks of the Kubernetes manifests (k8s/README.md). Run through k8s/check.sh.

Every kustomization (k8s/base, k8s/base/migrate, each overlay and its migrate/) is rendered and
then checked:

- schemas: every Kubernetes object against the Kubernetes OpenAPI schemas bundled by the
  `kubernetes-validate` package (strict: unknown fields fail), KEDA objects against the JSON
  Schemas in k8s/schemas/ (python `jsonschema`), any other custom resource fails;
- policy: every container non-root, read-only root filesystem, no privilege escalation, all
  capabilities dropped, seccomp RuntimeDefault, /tmp an emptyDir, requests and limits set, no
  service-account token, no literal secret values (no Secret objects, secret-like variables only
  through secretKeyRef, no secrets in the ConfigMaps' TOML); Deployments have startup, liveness
  (/healthz) and readiness (/readyz) probes and a termination grace longer than preStop + drain;
- wiring: configuration directories mounted from the generated ConfigMaps, the port from the
  effective `[http] port`, scrape annotations on it, a Service, PodDisruptionBudget and
  NetworkPolicy per Deployment, one autoscaler per Deployment (HPA on CPU for the Ingress
  backends, a KEDA ScaledObject on its RabbitMQ queue for each consumer, its threshold a multiple
  of the effective `[amqp] prefetch`, the consumer's pool at least that prefetch + 2), one image
  per overlay, OAuth callback on the Ingress host;
- PostgreSQL connections: per overlay, the sum over Deployments of (max replicas + rollout
  surge) × effective `[database] max_connections`, plus its Jobs and a leadctl reserve, within
  the budget its Namespace declares (annotation leadgen/postgres-connection-budget);
- routes: the Ingress sends every request where deploy/nginx/leadgen.conf.template sends it.

With `--compare CMD` every kustomization is also rendered by a second renderer (k8s/check.sh
passes k8s/render.py, the fallback used where no kustomize v5 is installed) and the two
renderings must hold the same objects, compared parsed, in any order.

`--self-test` then breaks copies of the prod rendering (and of the nginx template) in several
ways and fails unless each break is caught.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import copy
import json
import math
import re
import shlex
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import yaml

REPO = Path(__file__).resolve().parent.parent
K8S = REPO / "k8s"
NGINX_TEMPLATE = REPO / "deploy/nginx/leadgen.conf.template"
RABBITMQ_DEFINITIONS = REPO / "deploy/rabbitmq/definitions.json"
OPENAPI = REPO / "docs/openapi.json"
SETTINGS_SECTIONS = REPO / "crates/settings/src/sections.rs"
README = K8S / "README.md"

# The Kubernetes version whose schemas the manifests must satisfy: the oldest we support.
KUBERNETES_VERSION = "1.30.0"
KEDA_SCHEMAS = {
    "ScaledObject": K8S / "schemas/keda-scaledobject.schema.json",
    "TriggerAuthentication": K8S / "schemas/keda-triggerauthentication.schema.json",
    "ClusterTriggerAuthentication": K8S / "schemas/keda-triggerauthentication.schema.json",
}
# Namespaces whose pods may open connections to ours (NetworkPolicies; k8s/README.md).
INGRESS_NAMESPACE = "ingress-nginx"
MONITORING_NAMESPACE = "monitoring"

WORKLOAD_KINDS = {"Deployment", "Job", "StatefulSet", "DaemonSet"}
SECRET_ENV_NAME = re.compile(
    r"(__URL$|KEY|SECRET|PASSWORD|PASSWD|TOKEN|PEM|CREDENTIAL)", re.IGNORECASE
)
# TOML keys that hold secrets: they may appear in a ConfigMap only empty.
SECRET_TOML_KEYS = {
    "data_key",
    "previous_keys",
    "blind_index_key",
    "blind_index_previous_keys",
    "hmac_secret",
    "public_key_pem",
    "additional_public_keys_pem",
    "password",
}


# --------------------------------------------------------------------------------------------
# Rendering


@dataclass
class Rendering:
    name: str  # "base", "base/migrate", "prod", "prod/migrate", …
    path: Path
    overlay: bool  # an environment (image, host) rather than the base
    docs: list[dict] = field(default_factory=list)


def targets() -> list[Rendering]:
    out = [
        Rendering("base", K8S / "base", False),
        Rendering("base/migrate", K8S / "base/migrate", False),
    ]
    overlays = sorted(p.parent for p in (K8S / "overlays").glob("*/kustomization.yaml"))
    if not overlays:
        raise SystemExit("no overlays under k8s/overlays")
    for o in overlays:
        out.append(Rendering(o.name, o, True))
        out.append(Rendering(f"{o.name}/migrate", o / "migrate", True))
    return out


def render(kustomize: list[str], r: Rendering) -> Rendering:
    if not (r.path / "kustomization.yaml").exists():
        raise SystemExit(f"{r.path.relative_to(REPO)}: no kustomization.yaml")
    proc = subprocess.run(
        [*kustomize, str(r.path)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(
            f"rendering {r.path.relative_to(REPO)} with {renderer_label(kustomize)} failed:\n"
            f"{proc.stderr.strip()}"
        )
    r.docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    return r


def renderer_label(command: list[str]) -> str:
    if any(Path(c).name == "render.py" for c in command):
        return "k8s/render.py"
    return " ".join(command)


# --------------------------------------------------------------------------------------------
# Two renderers, one result


HASH_SUFFIX = re.compile(r"^(.*)-[a-z0-9]{10}$")


def object_key(doc: dict) -> str:
    meta = doc.get("metadata") or {}
    ns = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{doc.get('apiVersion')} {doc.get('kind')} {ns}{meta.get('name')}"


def differences(a, b, path: str = "") -> list[str]:
    """Paths at which two parsed objects differ, each with both values (a first)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            here = f"{path}.{k}" if path else str(k)
            if k not in a or k not in b:
                out.append(f"{here}: {'absent' if k not in a else short(a[k])} vs "
                           f"{'absent' if k not in b else short(b[k])}")
            else:
                out += differences(a[k], b[k], here)
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    if a == b and type(a) is type(b):
        return []
    return [f"{path or '(object)'}: {short(a)} vs {short(b)}"]


def short(value) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


def compare_renderings(ref: Rendering, other: Rendering, ref_label: str, other_label: str,
                       p: Problems) -> int:
    """Fails unless both renderings hold the same objects (parsed, deep equality, any order);
    returns the number of objects compared."""
    where = f"{ref.name}: {ref_label} vs {other_label}"
    indexed = []
    for r, label in ((ref, ref_label), (other, other_label)):
        docs: dict[str, dict] = {}
        for d in r.docs:
            if object_key(d) in docs:
                p.add(where, f"{label} renders {object_key(d)} twice")
            docs[object_key(d)] = d
        indexed.append(docs)
    a, b = indexed
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    # The same generated object under two hash suffixes: its data, or the hashing, differs.
    def unhashed(key: str) -> str | None:
        m = HASH_SUFFIX.match(key)
        return m[1] if m else None

    for ka in list(only_a):
        kb = next((k for k in only_b if unhashed(ka) and unhashed(k) == unhashed(ka)), None)
        if kb:
            only_a.remove(ka)
            only_b.remove(kb)
            detail = [d for d in differences(a[ka], b[kb]) if not d.startswith("metadata.name:")]
            p.add(where, f"{ka} is {kb.rsplit('/', 1)[-1].split()[-1]} from {other_label}: the "
                         f"hash suffixes differ ({'; '.join(detail[:3]) or 'same data'})")
    for k in only_a:
        p.add(where, f"{k} only from {ref_label}")
    for k in only_b:
        p.add(where, f"{k} only from {other_label}")
    for k in sorted(set(a) & set(b)):
        detail = differences(a[k], b[k])
        if detail:
            more = f" (and {len(detail) - 3} more)" if len(detail) > 3 else ""
            p.add(where, f"{k}: {'; '.join(detail[:3])}{more}")
    return len(a)


# --------------------------------------------------------------------------------------------
# Helpers


class Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")


def ident(doc: dict) -> str:
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d.get("kind") == kind]


def find(docs: list[dict], kind: str, name: str) -> dict | None:
    for d in docs:
        if d.get("kind") == kind and d.get("metadata", {}).get("name") == name:
            return d
    return None


def pod_spec(doc: dict) -> dict:
    return doc["spec"]["template"]["spec"]


def pod_labels(doc: dict) -> dict:
    return doc["spec"]["template"].get("metadata", {}).get("labels", {})


def selects(selector: dict | None, labels: dict) -> bool:
    """A LabelSelector (matchLabels and matchExpressions) against a label set."""
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], e.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def deep_merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def settings_default(function: str) -> int:
    """A numeric default of the settings crate (`fn <function>() -> u64 { 20 }`)."""
    text = SETTINGS_SECTIONS.read_text()
    m = re.search(rf"fn {function}\(\)\s*->\s*\w+\s*\{{\s*([\d_]+)\s*\}}", text)
    if not m:
        raise SystemExit(
            f"{SETTINGS_SECTIONS.relative_to(REPO)}: {function}() not found; update k8s/check.py"
        )
    return int(m.group(1).replace("_", ""))


def default_shutdown_secs() -> int:
    """`[http] shutdown_timeout_secs`'s default."""
    return settings_default("default_shutdown_secs")


def default_pool_size() -> int:
    """`[database] max_connections`'s default."""
    return settings_default("default_pool_size")


# --------------------------------------------------------------------------------------------
# Schemas


_KEDA_VALIDATORS: dict[str, jsonschema.protocols.Validator] = {}


def keda_validator(kind: str):
    if kind not in _KEDA_VALIDATORS:
        schema = json.loads(KEDA_SCHEMAS[kind].read_text())
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        _KEDA_VALIDATORS[kind] = cls(schema)
    return _KEDA_VALIDATORS[kind]


def check_schemas(r: Rendering, p: Problems) -> int:
    checked = 0
    for doc in r.docs:
        where = f"{r.name}: {ident(doc)}"
        api = doc.get("apiVersion", "")
        kind = doc.get("kind", "")
        if kind == "Secret":
            p.add(where, "a Secret in the manifests: secret values never live in this repository")
        if api.startswith("keda.sh/"):
            if kind not in KEDA_SCHEMAS:
                p.add(where, f"no JSON Schema for KEDA kind {kind} in k8s/schemas/")
                continue
            for e in sorted(keda_validator(kind).iter_errors(doc), key=lambda e: list(e.path)):
                path = "/".join(str(x) for x in e.absolute_path) or "(root)"
                p.add(where, f"KEDA schema: {path}: {e.message}")
            checked += 1
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            p.add(where, f"no Kubernetes {KUBERNETES_VERSION} schema for {api} {kind} "
                         "(a custom resource needs a schema in k8s/schemas/)")
        except kubernetes_validate.ValidationError as e:
            path = "/".join(str(x) for x in e.path) or "(root)"
            p.add(where, f"Kubernetes {KUBERNETES_VERSION} schema: {path}: {e.message}")
        checked += 1
    return checked


# --------------------------------------------------------------------------------------------
# Workload policy and wiring


def effective_config(r: Rendering, workload: dict, container: dict, p: Problems) -> dict | None:
    """The TOML a container reads: shared base and env files, then its own (env vars aside)."""
    where = f"{r.name}: {ident(workload)}"
    spec = pod_spec(workload)
    env = {e["name"]: e for e in container.get("env", [])}
    mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in spec.get("volumes", [])}

    def cm_for(var: str) -> dict | None:
        e = env.get(var)
        if not e or "value" not in e:
            p.add(where, f"{var} must be set to the mounted configuration directory")
            return None
        m = mounts.get(e["value"])
        if not m:
            p.add(where, f"{var}={e['value']} is not a volume mount")
            return None
        if not m.get("readOnly"):
            p.add(where, f"the configuration mount {e['value']} must be readOnly")
        v = volumes.get(m["name"], {})
        name = (v.get("configMap") or {}).get("name")
        cm = find(r.docs, "ConfigMap", name) if name else None
        if not cm:
            p.add(where, f"{var}={e['value']} is not mounted from a ConfigMap of this rendering")
            return None
        return cm

    shared, own = cm_for("LEADGEN_SHARED_CONFIG_DIR"), cm_for("LEADGEN_CONFIG_DIR")
    env_ref = (env.get("LEADGEN_ENV", {}).get("valueFrom") or {}).get("configMapKeyRef")
    environment = None
    if env_ref:
        cm = find(r.docs, "ConfigMap", env_ref["name"])
        environment = (cm or {}).get("data", {}).get(env_ref["key"])
    if not environment:
        p.add(where, "LEADGEN_ENV must come from a ConfigMap of this rendering "
                     "(its default, local, would read no cluster overlay)")
        return None
    if shared is None or own is None:
        return None
    merged: dict = {}
    for cm in (shared, own):
        data = cm.get("data", {})
        if "local.toml" in data:
            p.add(where, f"ConfigMap {cm['metadata']['name']} carries local.toml "
                         "(development keys never go to a cluster)")
        for file in ("base.toml", f"{environment}.toml"):
            if file in data:
                try:
                    merged = deep_merge(merged, tomllib.loads(data[file]))
                except tomllib.TOMLDecodeError as e:
                    p.add(where, f"{cm['metadata']['name']} {file}: {e}")
        if "base.toml" not in data and cm is shared:
            p.add(where, f"ConfigMap {cm['metadata']['name']} has no base.toml")
    return merged


def secrets_in_toml(cfg: dict, prefix: str = "") -> list[str]:
    found = []
    for k, v in cfg.items():
        path = f"{prefix}{k}"
        if isinstance(v, dict):
            found += secrets_in_toml(v, path + ".")
        elif k in SECRET_TOML_KEYS and v not in ("", [], None):
            found.append(path)
        elif isinstance(v, str) and "://" in v:
            parts = urlsplit(v)
            if parts.password:
                found.append(path)
    return found


def check_container_security(where: str, spec: dict, c: dict, p: Problems) -> None:
    psc = spec.get("securityContext") or {}
    sc = c.get("securityContext") or {}
    if not (sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True):
        p.add(where, f"container {c['name']}: runAsNonRoot must be true")
    if sc.get("runAsUser", psc.get("runAsUser")) == 0:
        p.add(where, f"container {c['name']}: runAsUser 0")
    if sc.get("readOnlyRootFilesystem") is not True:
        p.add(where, f"container {c['name']}: readOnlyRootFilesystem must be true")
    if sc.get("allowPrivilegeEscalation") is not False:
        p.add(where, f"container {c['name']}: allowPrivilegeEscalation must be false")
    if sc.get("privileged"):
        p.add(where, f"container {c['name']}: privileged")
    caps = sc.get("capabilities") or {}
    if "ALL" not in (caps.get("drop") or []):
        p.add(where, f"container {c['name']}: capabilities must drop ALL")
    if caps.get("add"):
        p.add(where, f"container {c['name']}: adds capabilities {caps['add']}")
    seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
    if seccomp != "RuntimeDefault":
        p.add(where, f"container {c['name']}: seccompProfile must be RuntimeDefault")
    res = c.get("resources") or {}
    for part in ("requests", "limits"):
        for r in ("cpu", "memory"):
            if not (res.get(part) or {}).get(r):
                p.add(where, f"container {c['name']}: resources.{part}.{r} not set")
    if sc.get("readOnlyRootFilesystem") is True:
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        vols = {v["name"]: v for v in spec.get("volumes", [])}
        if "emptyDir" not in vols.get(mounts.get("/tmp", ""), {}):
            p.add(where, f"container {c['name']}: /tmp must be an emptyDir "
                         "(the root filesystem is read-only)")


def check_env(where: str, c: dict, p: Problems, secret_keys: set[tuple[str, str]]) -> None:
    for e in c.get("env", []):
        name = e["name"]
        if "value" in e:
            value = str(e["value"])
            if SECRET_ENV_NAME.search(name) and name not in (
                "LEADGEN_CONFIG_DIR", "LEADGEN_SHARED_CONFIG_DIR"
            ):
                p.add(where, f"container {c['name']}: {name} has a literal value; "
                             "secrets come from a secretKeyRef")
            if "-----BEGIN" in value or (("://" in value) and urlsplit(value).password):
                p.add(where, f"container {c['name']}: {name}'s literal value holds a credential")
        ref = (e.get("valueFrom") or {}).get("secretKeyRef")
        if ref:
            secret_keys.add((ref["name"], ref["key"]))
        elif SECRET_ENV_NAME.search(name) and name.startswith("LEADGEN__"):
            p.add(where, f"container {c['name']}: {name} must come from a secretKeyRef")
    # The APIs check the token's issuer and audience: without both, any token the identity
    # service's key signed, for any system, would pass.
    if any(e["name"] == "LEADGEN__AUTH__PUBLIC_KEY_PEM" for e in c.get("env", [])):
        for required in ("LEADGEN__AUTH__ISSUER", "LEADGEN__AUTH__AUDIENCE"):
            env = next((e for e in c.get("env", []) if e["name"] == required), None)
            ref = ((env or {}).get("valueFrom") or {}).get("secretKeyRef") or {}
            if env is None or ref.get("optional") or not (ref or env.get("value")):
                p.add(where, f"container {c['name']}: {required} must be set (not optional): "
                             "tokens are checked for their issuer and audience")


def check_workloads(r: Rendering, p: Problems, secret_keys: set[tuple[str, str]],
                    drain_default: int) -> None:
    docs = r.docs
    images: set[str] = set()
    for w in docs:
        if w.get("kind") not in WORKLOAD_KINDS:
            continue
        where = f"{r.name}: {ident(w)}"
        spec = pod_spec(w)
        if spec.get("automountServiceAccountToken") is not False:
            p.add(where, "automountServiceAccountToken must be false")
        sa_name = spec.get("serviceAccountName")
        sa = find(docs, "ServiceAccount", sa_name) if sa_name else None
        if not sa:
            p.add(where, "needs its own ServiceAccount (serviceAccountName of this rendering)")
        elif sa.get("automountServiceAccountToken") is not False:
            p.add(f"{r.name}: {ident(sa)}", "automountServiceAccountToken must be false")
        if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
            p.add(where, "uses the host's namespaces")
        containers = spec.get("initContainers", []) + spec.get("containers", [])
        for c in containers:
            check_container_security(where, spec, c, p)
            check_env(where, c, p, secret_keys)
            images.add(c.get("image", ""))
        main = spec["containers"][0]
        cfg = effective_config(r, w, main, p)
        if cfg is not None:
            for key in secrets_in_toml(cfg):
                p.add(where, f"configuration key {key} holds a secret in a ConfigMap")
        if w["kind"] == "Deployment":
            check_deployment(r, w, main, cfg, p, drain_default)
    if r.overlay:
        for image in images:
            name, _, tag = image.rpartition(":") if "@" not in image else (image, "", "digest")
            if not name or "/" in tag or tag in ("", "latest"):
                p.add(r.name, f"image {image!r} needs a release tag (the git SHA), not latest")
        if len(images) > 1:
            p.add(r.name, f"one image for every container, found {sorted(images)}")


def check_deployment(r: Rendering, d: dict, c: dict, cfg: dict | None, p: Problems,
                     drain_default: int) -> None:
    where = f"{r.name}: {ident(d)}"
    spec = pod_spec(d)
    ports = {pt.get("name"): pt["containerPort"] for pt in c.get("ports", [])}
    for probe, path in (("startupProbe", None), ("livenessProbe", "/healthz"),
                        ("readinessProbe", "/readyz")):
        pr = c.get(probe)
        if not pr:
            p.add(where, f"{probe} missing")
            continue
        http = pr.get("httpGet")
        if not http:
            p.add(where, f"{probe} must be an httpGet")
            continue
        if path and http.get("path") != path:
            p.add(where, f"{probe} must GET {path}, not {http.get('path')}")
        if probe == "startupProbe" and http.get("path") not in ("/healthz", "/readyz"):
            p.add(where, "startupProbe must GET /healthz")
        port = http.get("port")
        if isinstance(port, str) and port not in ports:
            p.add(where, f"{probe} port {port!r} is not a container port")
    if "http" not in ports:
        p.add(where, "needs a container port named http")
    annotations = d["spec"]["template"].get("metadata", {}).get("annotations", {})
    if annotations.get("prometheus.io/scrape") != "true":
        p.add(where, "pod annotation prometheus.io/scrape must be \"true\"")
    if annotations.get("prometheus.io/path") != "/metrics":
        p.add(where, "pod annotation prometheus.io/path must be /metrics")
    if annotations.get("prometheus.io/port") != str(ports.get("http")):
        p.add(where, f"pod annotation prometheus.io/port must be the http port {ports.get('http')}")
    if cfg is not None:
        http_cfg = cfg.get("http", {})
        if http_cfg.get("port") != ports.get("http"):
            p.add(where, f"container port http {ports.get('http')} differs from the "
                         f"configured [http] port {http_cfg.get('port')}")
        if http_cfg.get("host") != "0.0.0.0":
            p.add(where, f"[http] host is {http_cfg.get('host')!r}: probes and the Service "
                         "need 0.0.0.0")
        drain = int(http_cfg.get("shutdown_timeout_secs", drain_default))
        pre_stop = (((c.get("lifecycle") or {}).get("preStop") or {}).get("sleep") or {})
        pre = int(pre_stop.get("seconds", 0))
        grace = spec.get("terminationGracePeriodSeconds", 30)
        if grace <= pre + drain:
            p.add(where, f"terminationGracePeriodSeconds {grace} must exceed preStop {pre} s "
                         f"+ drain ([http] shutdown_timeout_secs) {drain} s")
    if "replicas" in d["spec"]:
        p.add(where, "spec.replicas is set: the autoscaler owns it (an apply would reset it)")


# --------------------------------------------------------------------------------------------
# Services, budgets, autoscaling, network policies


def consumer_queues() -> dict[str, str]:
    """Consumer queue of each service, from the broker's definitions: `leadgen.<service>`."""
    defs = json.loads(RABBITMQ_DEFINITIONS.read_text())
    out = {}
    for q in defs["queues"]:
        if "x-dead-letter-exchange" in q.get("arguments", {}):
            out[q["name"].split(".", 1)[1]] = q["name"]
    if not out:
        raise SystemExit(f"{RABBITMQ_DEFINITIONS.relative_to(REPO)}: no consumer queues found")
    return out


def ingress_backends(docs: list[dict]) -> set[str]:
    out = set()
    for ing in by_kind(docs, "Ingress"):
        for rule in ing["spec"].get("rules", []):
            for path in (rule.get("http") or {}).get("paths", []):
                out.add(path["backend"]["service"]["name"])
    return out


def netpol_peers(docs: list[dict], labels: dict) -> tuple[list, bool, bool]:
    """Ingress peers allowed to pods with `labels`, whether ingress is isolated, and whether an
    empty `from` (everyone) is allowed."""
    peers, isolated, open_to_all = [], False, False
    for np in by_kind(docs, "NetworkPolicy"):
        # An empty podSelector selects every pod of the namespace.
        if not selects(np["spec"].get("podSelector") or {}, labels):
            continue
        if "Ingress" in np["spec"].get("policyTypes", ["Ingress"]):
            isolated = True
        for rule in np["spec"].get("ingress", []):
            if not rule.get("from"):
                open_to_all = True
            peers += rule.get("from", [])
    return peers, isolated, open_to_all


def check_wiring(r: Rendering, p: Problems, queues: dict[str, str]) -> None:
    docs = r.docs
    deployments = by_kind(docs, "Deployment")
    apis = ingress_backends(docs)
    if deployments and not by_kind(docs, "Ingress"):
        p.add(r.name, "no Ingress")
    for d in deployments:
        name = d["metadata"]["name"]
        where = f"{r.name}: {ident(d)}"
        labels = pod_labels(d)
        svcs = [s for s in by_kind(docs, "Service") if selects(
            {"matchLabels": s["spec"].get("selector", {})}, labels)]
        if not svcs:
            p.add(where, "no Service selects its pods")
        container_ports = {pt.get("name") for c in pod_spec(d)["containers"]
                           for pt in c.get("ports", [])}
        for s in svcs:
            for port in s["spec"].get("ports", []):
                if port.get("targetPort") not in container_ports:
                    p.add(f"{r.name}: {ident(s)}", f"targetPort {port.get('targetPort')!r} is "
                          f"not a named port of {name}'s containers")
        if not [b for b in by_kind(docs, "PodDisruptionBudget")
                if selects(b["spec"].get("selector"), labels)]:
            p.add(where, "no PodDisruptionBudget selects its pods")
        hpas = [h for h in by_kind(docs, "HorizontalPodAutoscaler")
                if h["spec"]["scaleTargetRef"]["kind"] == "Deployment"
                and h["spec"]["scaleTargetRef"]["name"] == name]
        scaled = [s for s in by_kind(docs, "ScaledObject")
                  if s["spec"]["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
                  and s["spec"]["scaleTargetRef"]["name"] == name]
        if len(hpas) + len(scaled) != 1:
            p.add(where, f"needs exactly one autoscaler, has {len(hpas)} HPA and "
                         f"{len(scaled)} ScaledObject")
        if name in apis:
            if not hpas:
                p.add(where, "an Ingress backend scales with an HPA on CPU")
            for h in hpas:
                check_hpa(f"{r.name}: {ident(h)}", h, p)
        if name in queues:
            if not scaled:
                p.add(where, f"consumes {queues[name]}: needs a KEDA ScaledObject on it")
            for s in scaled:
                check_scaled_object(r, s, d, queues[name], p)
        # NetworkPolicies: who may connect to these pods.
        peers, isolated, open_to_all = netpol_peers(docs, labels)
        if not isolated:
            p.add(where, "its pods accept connections from anywhere: no NetworkPolicy isolates them")
        if open_to_all:
            p.add(where, "its pods accept connections from anywhere: a NetworkPolicy rule has no `from`")
        allowed = {MONITORING_NAMESPACE} | ({INGRESS_NAMESPACE} if name in apis else set())
        seen = set()
        for peer in peers:
            ns = ((peer.get("namespaceSelector") or {}).get("matchLabels") or {}).get(
                "kubernetes.io/metadata.name")
            if set(peer) - {"namespaceSelector", "podSelector"} or ns not in allowed:
                p.add(where, f"NetworkPolicy admits {json.dumps(peer, sort_keys=True)}; "
                             f"only namespaces {sorted(allowed)} may connect")
            seen.add(ns)
        if name in apis and INGRESS_NAMESPACE not in seen:
            p.add(where, f"the Ingress controller's namespace {INGRESS_NAMESPACE} cannot reach it")
    for w in docs:
        if w.get("kind") in ("Job",):
            peers, isolated, open_to_all = netpol_peers(docs, pod_labels(w))
            if not isolated or open_to_all or peers:
                p.add(f"{r.name}: {ident(w)}", "must accept no connections")
    deny = [np for np in by_kind(docs, "NetworkPolicy")
            if not np["spec"].get("ingress") and not np["spec"].get("egress")
            and set(np["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}]
    if not deny:
        p.add(r.name, "no deny-by-default NetworkPolicy")


def check_hpa(where: str, h: dict, p: Problems) -> None:
    if h.get("apiVersion") != "autoscaling/v2":
        p.add(where, "must be autoscaling/v2")
    spec = h["spec"]
    if not 1 <= spec.get("minReplicas", 1) <= spec["maxReplicas"]:
        p.add(where, "needs 1 <= minReplicas <= maxReplicas")
    cpu = [m for m in spec.get("metrics", [])
           if m.get("type") == "Resource" and m["resource"]["name"] == "cpu"]
    if not cpu:
        p.add(where, "must scale on CPU")


# A worker's pool beyond its prefetch: the rescore and the sweep (order-processor), a rate slot
# and a token renewal at once (sync-worker); see the prod overlay's comments.
WORKER_POOL_HEADROOM = 2


def check_scaled_object(r: Rendering, s: dict, d: dict, queue: str, p: Problems) -> None:
    where = f"{r.name}: {ident(s)}"
    spec = s["spec"]
    lo, hi = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
    if lo < 1:
        p.add(where, "minReplicaCount must be at least 1: the worker's background tasks "
                     "(scheduler, recovery, sweep, rescore) run with an empty queue")
    if hi < lo:
        p.add(where, "maxReplicaCount below minReplicaCount")
    if "idleReplicaCount" in spec:
        p.add(where, "idleReplicaCount would scale the background tasks away")
    fb = spec.get("fallback")
    if fb and not lo <= fb["replicas"] <= hi:
        p.add(where, f"fallback.replicas {fb['replicas']} outside [{lo}, {hi}]")
    cfg = effective_config(r, d, pod_spec(d)["containers"][0], Problems()) or {}
    prefetch = int(cfg.get("amqp", {}).get("prefetch", 8))
    pool = pool_size(r, d, default_pool_size(), Problems())
    if pool is not None and pool < prefetch + WORKER_POOL_HEADROOM:
        p.add(f"{r.name}: {ident(d)}",
              f"[database] max_connections {pool} is below [amqp] prefetch {prefetch} + "
              f"{WORKER_POOL_HEADROOM}: every message in flight takes a connection for its "
              "steps, and the worker's background tasks need room beside them (k8s/README.md)")
    triggers = [t for t in spec.get("triggers", []) if t.get("type") == "rabbitmq"]
    if not triggers:
        p.add(where, "needs a rabbitmq trigger")
    for t in triggers:
        md = t.get("metadata", {})
        if md.get("queueName") != queue:
            p.add(where, f"trigger queueName {md.get('queueName')!r}, the consumer's queue is {queue}")
        if md.get("mode") != "QueueLength":
            p.add(where, "trigger mode must be QueueLength")
        if md.get("protocol") != "http" or md.get("excludeUnacknowledged") == "true":
            p.add(where, "trigger must count unacknowledged messages too (protocol http): "
                         "ready-only depth scales busy workers down")
        if t.get("metricType", "AverageValue") != "AverageValue":
            p.add(where, "metricType must be AverageValue (depth per replica)")
        for literal in ("host", "hostFromEnv", "usernameFromEnv", "passwordFromEnv"):
            if literal in md:
                p.add(where, f"trigger metadata {literal}: the broker URL comes from the "
                             "TriggerAuthentication's Secret")
        try:
            value = float(md.get("value", "nan"))
        except ValueError:
            value = float("nan")
        if not (value >= prefetch and value % prefetch == 0):
            p.add(where, f"threshold value {md.get('value')!r} must be prefetch ({prefetch}, "
                         "[amqp] prefetch) × a whole number (k8s/README.md)")
        ref = t.get("authenticationRef") or {}
        auth = find(r.docs, ref.get("kind", "TriggerAuthentication"), ref.get("name", ""))
        if not auth:
            p.add(where, f"authenticationRef {ref.get('name')!r} is not in this rendering")
        elif not any(x.get("parameter") == "host" for x in auth["spec"].get("secretTargetRef", [])):
            p.add(f"{r.name}: {ident(auth)}", "must give the host parameter from a Secret")


def check_callback_host(r: Rendering, p: Problems) -> None:
    hosts = {rule.get("host") for ing in by_kind(r.docs, "Ingress")
             for rule in ing["spec"].get("rules", [])}
    for d in by_kind(r.docs, "Deployment"):
        cfg = effective_config(r, d, pod_spec(d)["containers"][0], Problems()) or {}
        url = cfg.get("oauth", {}).get("callback_url")
        if url and urlsplit(url).hostname not in hosts:
            p.add(f"{r.name}: {ident(d)}", f"[oauth] callback_url host "
                  f"{urlsplit(url).hostname!r} is not an Ingress host {sorted(hosts)}")


# --------------------------------------------------------------------------------------------
# PostgreSQL connections


# The overlay's Namespace declares the module's PostgreSQL connection budget (k8s/README.md,
# "PostgreSQL connections").
CONNECTION_BUDGET = "leadgen/postgres-connection-budget"
POOL_ENV = "LEADGEN__DATABASE__MAX_CONNECTIONS"
# leadctl opens one connection per process, no pool: each Job pod counts 1, and this many are
# kept for the leadctl commands an operator runs beside the services (`leadctl leads …`,
# `data-key reseal` as a one-off Job, …).
LEADCTL_RESERVE = 5


def pool_size(r: Rendering, d: dict, default: int, p: Problems) -> int | None:
    """The `[database] max_connections` a Deployment's pods run with: LEADGEN__DATABASE__
    MAX_CONNECTIONS when set (a literal or from a ConfigMap of the rendering), else the
    effective TOML, else the settings crate's default."""
    where = f"{r.name}: {ident(d)}"
    c = pod_spec(d)["containers"][0]
    env = next((e for e in c.get("env", []) if e["name"] == POOL_ENV), None)
    if env is not None:
        ref = (env.get("valueFrom") or {}).get("configMapKeyRef") or {}
        cm = find(r.docs, "ConfigMap", ref.get("name", "")) if ref else None
        if "value" in env:
            raw, source = env["value"], POOL_ENV
        elif cm and ref.get("key") in cm.get("data", {}):
            raw, source = cm["data"][ref["key"]], f"{POOL_ENV} (ConfigMap {ref['name']})"
        else:
            p.add(where, f"{POOL_ENV} must be a literal or come from a ConfigMap of this "
                         "rendering: the PostgreSQL connection budget is checked from them")
            return None
    else:
        cfg = effective_config(r, d, c, Problems())
        if cfg is None:
            return None  # reported by check_workloads
        raw = cfg.get("database", {}).get("max_connections", default)
        source = "[database] max_connections"
    try:
        n = int(raw)
    except (TypeError, ValueError):
        p.add(where, f"{source} {raw!r} is not a whole number")
        return None
    if n < 1:
        p.add(where, f"{source} {n}: the pool needs at least one connection")
    return n


def max_pods(docs: list[dict], d: dict) -> int | None:
    """The most pods a Deployment runs: its autoscaler's maximum, plus the rollout's surge (a
    rollout at the maximum adds maxSurge pods; Kubernetes rounds a percentage up)."""
    name = d["metadata"]["name"]
    hi = None
    for h in by_kind(docs, "HorizontalPodAutoscaler"):
        if h["spec"]["scaleTargetRef"]["name"] == name:
            hi = h["spec"]["maxReplicas"]
    for s in by_kind(docs, "ScaledObject"):
        if s["spec"]["scaleTargetRef"]["name"] == name:
            hi = s["spec"].get("maxReplicaCount", 100)  # KEDA's default
    if hi is None:
        return None  # no autoscaler: reported by check_wiring
    strategy = d["spec"].get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return hi
    surge = (strategy.get("rollingUpdate") or {}).get("maxSurge", "25%")
    if isinstance(surge, str) and surge.endswith("%"):
        return hi + math.ceil(hi * int(surge[:-1]) / 100)
    return hi + int(surge)


def check_connection_budget(r: Rendering, migrate: Rendering | None, p: Problems,
                            default_pool: int) -> str | None:
    """Fails when the overlay's pools at their max pods, its Jobs and the leadctl reserve need
    more PostgreSQL connections than its Namespace declares; returns the account."""
    namespaces = by_kind(r.docs, "Namespace")
    raw = ((namespaces[0]["metadata"].get("annotations") or {}).get(CONNECTION_BUDGET)
           if namespaces else None)
    if raw is None:
        p.add(r.name, f"the Namespace must declare the PostgreSQL connection budget (annotation "
                      f"{CONNECTION_BUDGET}; k8s/README.md, \"PostgreSQL connections\")")
        return None
    try:
        budget = int(raw)
    except ValueError:
        p.add(r.name, f"annotation {CONNECTION_BUDGET} {raw!r} is not a whole number")
        return None
    total, parts = 0, []
    for d in by_kind(r.docs, "Deployment"):
        pods, pool = max_pods(r.docs, d), pool_size(r, d, default_pool, p)
        if pods is None or pool is None:
            continue
        total += pods * pool
        parts.append(f"{d['metadata']['name']} {pods}×{pool}")
    jobs = sum(j["spec"].get("parallelism", 1)
               for rr in (r, migrate) if rr for j in by_kind(rr.docs, "Job"))
    total += jobs + LEADCTL_RESERVE
    parts.append(f"Jobs {jobs}, leadctl {LEADCTL_RESERVE}")
    account = f"{total} of {budget} ({', '.join(parts)})"
    if total > budget:
        p.add(r.name, f"PostgreSQL connections at max replicas: {account} exceed the "
                      f"connection budget ({CONNECTION_BUDGET}): lower `[database] "
                      "max_connections` or max replicas, or raise the budget and the server's "
                      "max_connections (k8s/README.md, \"PostgreSQL connections\")")
    return account


# --------------------------------------------------------------------------------------------
# Routes: the nginx template against the Ingress


@dataclass
class Location:
    modifier: str  # "=", "^~" or "" (plain prefix)
    path: str
    answer: tuple  # ("service", name) or ("status", code)


def parse_nginx(text: str) -> list[Location]:
    # Drop comments (no `#` appears inside the template's quoted strings outside them).
    lines = []
    for line in text.splitlines():
        out, quote = [], None
        for ch in line:
            if quote:
                out.append(ch)
                if ch == quote:
                    quote = None
            elif ch in "'\"":
                quote = ch
                out.append(ch)
            elif ch == "#":
                break
            else:
                out.append(ch)
        lines.append("".join(out))
    text = "\n".join(lines)
    upstreams = set(re.findall(r"\bupstream\s+(\w+)\s*\{", text))
    locations = []
    for m in re.finditer(r"\blocation\s+(?:(=|\^~|~\*|~)\s+)?(\S+)\s*\{", text):
        modifier, path = m.group(1) or "", m.group(2)
        body, quote = [], None
        for ch in text[m.end():]:
            if quote:
                quote = None if ch == quote else quote
            elif ch in "'\"":
                quote = ch
            elif ch == "{":
                raise ValueError(f"location {path}: nested blocks are not understood by "
                                 "k8s/check.py")
            elif ch == "}":
                break
            body.append(ch)
        body = "".join(body)
        if path.startswith("@"):
            continue
        if modifier in ("~", "~*"):
            raise ValueError(f"location {modifier} {path}: regex locations have no Ingress "
                             "equivalent; k8s/check.py does not compare them")
        proxy = re.search(r"\bproxy_pass\s+([^;\s]+)\s*;", body)
        ret = re.search(r"\breturn\s+(\d{3})\b", body)
        if re.search(r"\binternal\s*;", body):
            # Reached only by nginx's own redirects (error pages): from outside, a 404.
            answer = ("status", 404)
        elif proxy:
            url = urlsplit(proxy.group(1))
            if url.scheme != "http" or url.path or url.hostname not in upstreams:
                raise ValueError(f"location {path}: proxy_pass {proxy.group(1)} is not "
                                 "`http://<upstream>` (a URI part would rewrite paths)")
            answer = ("service", url.hostname.replace("_", "-"))
        elif ret:
            answer = ("status", int(ret.group(1)))
        else:
            raise ValueError(f"location {path}: neither proxy_pass nor return")
        locations.append(Location(modifier, path, answer))
    if not locations:
        raise ValueError("no location blocks found")
    return locations


def nginx_route(locations: list[Location], path: str) -> tuple[tuple, str]:
    for loc in locations:
        if loc.modifier == "=" and loc.path == path:
            return loc.answer, f"location = {loc.path}"
    best = None
    for loc in locations:
        if loc.modifier in ("^~", "") and path.startswith(loc.path):
            if best is None or len(loc.path) > len(best.path):
                best = loc
    if best:
        return best.answer, f"location {best.modifier} {best.path}".replace("  ", " ")
    return ("status", 404), "no location"


@dataclass
class IngressPath:
    host: str
    path_type: str
    path: str
    service: str
    port: object


def ingress_paths(docs: list[dict], p: Problems, where: str) -> dict[str, list[IngressPath]]:
    hosts: dict[str, list[IngressPath]] = {}
    for ing in by_kind(docs, "Ingress"):
        if ing["spec"].get("defaultBackend"):
            p.add(f"{where}: {ident(ing)}", "defaultBackend set: unrouted paths must get the 404")
        for rule in ing["spec"].get("rules", []):
            host = rule.get("host", "*")
            for entry in (rule.get("http") or {}).get("paths", []):
                svc = entry["backend"].get("service")
                if not svc:
                    p.add(f"{where}: {ident(ing)}", f"{entry['path']}: backend is not a Service")
                    continue
                hosts.setdefault(host, []).append(IngressPath(
                    host, entry["pathType"], entry["path"], svc["name"],
                    svc["port"].get("name", svc["port"].get("number"))))
    return hosts


def ingress_route(paths: list[IngressPath], path: str) -> tuple[tuple, str]:
    """Kubernetes' rules: Exact is equality; Prefix matches whole `/` elements (a trailing
    slash ignored); the longest path wins, Exact before Prefix at equal length."""
    best, best_key = None, None
    req = path.split("/")[1:]
    for e in paths:
        if e.path_type == "Exact":
            ok = path == e.path
        elif e.path_type == "Prefix":
            elems = [] if e.path.rstrip("/") == "" else e.path.rstrip("/").split("/")[1:]
            ok = req[: len(elems)] == elems
        else:
            raise ValueError(f"pathType {e.path_type} for {e.path}: only the portable Exact "
                             "and Prefix are compared")
        if ok:
            key = (len(e.path.rstrip("/") if e.path_type == "Prefix" else e.path),
                   e.path_type == "Exact")
            if best_key is None or key > best_key:
                best, best_key = e, key
    if best:
        return ("service", best.service), f"{best.path_type} {best.path}"
    return ("status", 404), "no path (the controller's 404)"


def api_paths() -> set[str]:
    doc = json.loads(OPENAPI.read_text())
    base = doc.get("servers", [{}])[0].get("url", "")
    return {base + re.sub(r"\{[^}]+\}", "1", p) for p in doc["paths"]}


def check_routes(r: Rendering, p: Problems, template_text: str | None = None) -> int:
    """Compare the gateways request by request; returns the number of requests compared."""
    if not by_kind(r.docs, "Ingress"):
        return 0
    try:
        locations = parse_nginx(template_text if template_text is not None
                                else NGINX_TEMPLATE.read_text())
    except ValueError as e:
        p.add(f"{NGINX_TEMPLATE.relative_to(REPO)}", str(e))
        return 0
    hosts = ingress_paths(r.docs, p, r.name)
    apis = api_paths()
    # Requests worth asking: each configured path, with and without its trailing slash, one
    # element below it, a sibling that shares its spelling, each parent; the API's own paths.
    probes = {"/", "/healthz", "/readyz", "/metrics", "/api", "/api/"} | apis
    for raw in [loc.path for loc in locations] + [e.path for v in hosts.values() for e in v]:
        base = raw.rstrip("/") or "/"
        probes |= {raw, base, base + "/", base + "x", base + "/x", base + "/x/y"}
        parts = base.split("/")
        probes |= {"/".join(parts[:i]) or "/" for i in range(1, len(parts))}
    services = {s["metadata"]["name"]: s for s in by_kind(r.docs, "Service")}
    compared = 0
    for host, paths in sorted(hosts.items()):
        where = f"{r.name}: Ingress host {host}"
        for e in paths:
            svc = services.get(e.service)
            if not svc:
                p.add(where, f"{e.path} -> {e.service}: no such Service")
            elif e.port not in {pt.get("name") for pt in svc["spec"]["ports"]} | {
                    pt.get("port") for pt in svc["spec"]["ports"]}:
                p.add(where, f"{e.path} -> {e.service}: Service has no port {e.port!r}")
        try:
            for probe in sorted(probes):
                want, why_n = nginx_route(locations, probe)
                got, why_i = ingress_route(paths, probe)
                compared += 1
                if want == got:
                    continue
                # nginx answers the bare prefix of a `^~ P/` location with its own 404 only to
                # avoid a 301 to P/; the Ingress hands it to that location's service, which
                # answers the same envelope 404 as long as the API defines nothing there.
                slash = nginx_route(locations, probe + "/")[0]
                if (want == ("status", 404) and why_n == f"location = {probe}"
                        and got == slash and probe not in apis):
                    continue
                p.add(where, f"GET {probe}: nginx template -> {fmt(want)} ({why_n}), "
                             f"Ingress -> {fmt(got)} ({why_i})")
        except ValueError as e:
            p.add(where, str(e))
    return compared


def fmt(answer: tuple) -> str:
    return answer[1] if answer[0] == "service" else f"{answer[1]}"


# --------------------------------------------------------------------------------------------
# Driver


def check_all(renderings: list[Rendering], template_text: str | None = None) -> tuple[list[str], dict]:
    p = Problems()
    queues = consumer_queues()
    drain_default = default_shutdown_secs()
    secret_keys: set[tuple[str, str]] = set()
    stats = {"objects": 0, "requests": 0, "connections": []}
    for r in renderings:
        stats["objects"] += check_schemas(r, p)
        check_workloads(r, p, secret_keys, drain_default)
        check_wiring(r, p, queues)
        check_callback_host(r, p)
        stats["requests"] += check_routes(r, p, template_text)
    # Every overlay's migration Job runs the image its services run.
    by_name = {r.name: r for r in renderings}
    for r in renderings:
        if r.overlay and not r.name.endswith("/migrate"):
            m = by_name.get(f"{r.name}/migrate")
            imgs = lambda rr: {c["image"] for w in rr.docs if w.get("kind") in WORKLOAD_KINDS
                               for c in pod_spec(w)["containers"]}
            if m and imgs(r) != imgs(m):
                p.add(r.name, f"the migration Job runs {sorted(imgs(m))}, the services "
                              f"{sorted(imgs(r))}")
            if m and not by_kind(m.docs, "Job"):
                p.add(m.name, "no migration Job")
            account = check_connection_budget(r, m, p, default_pool_size())
            if account:
                stats["connections"].append(f"{r.name} {account}")
    # An overlay creates its namespace, enforcing the restricted Pod Security Standard, and puts
    # everything in it.
    for r in renderings:
        if not r.overlay:
            continue
        namespaces = by_kind(r.docs, "Namespace")
        if len(namespaces) != 1:
            p.add(r.name, f"needs exactly one Namespace, has {len(namespaces)}")
            continue
        ns = namespaces[0]["metadata"]
        if ns.get("labels", {}).get("pod-security.kubernetes.io/enforce") != "restricted":
            p.add(f"{r.name}: {ident(namespaces[0])}",
                  "must enforce the restricted Pod Security Standard")
        for d in r.docs:
            if d["kind"] != "Namespace" and d["metadata"].get("namespace") != ns["name"]:
                p.add(f"{r.name}: {ident(d)}", f"not in namespace {ns['name']}")
    # Every Secret key the manifests need is documented for operators.
    for r in renderings:
        for ta in by_kind(r.docs, "TriggerAuthentication"):
            for ref in ta["spec"].get("secretTargetRef", []):
                secret_keys.add((ref["name"], ref["key"]))
    readme = README.read_text()
    for name, key in sorted(secret_keys):
        if f"`{key}`" not in readme or f"`{name}`" not in readme:
            p.add("k8s/README.md", f"does not document Secret {name} key {key}")
    return list(dict.fromkeys(p.items)), stats


def self_test(renderings: list[Rendering]) -> list[str]:
    """Break copies in ways the checks must catch; returns the breaks that went unnoticed."""
    apps = [r for r in renderings if r.overlay and not r.name.endswith("/migrate")]
    prod = next((r for r in apps if r.name == "prod"), apps[0])

    def mutated(mutate) -> Rendering:
        r = Rendering(f"{prod.name}[mutated]", prod.path, True, copy.deepcopy(prod.docs))
        mutate(r.docs)
        return r

    def ingress(docs):
        return by_kind(docs, "Ingress")[0]["spec"]["rules"][0]["http"]["paths"]

    def deployment(docs, name):
        return pod_spec(find(docs, "Deployment", name))["containers"][0]

    def drop_leads_route(docs):
        paths = ingress(docs)
        paths[:] = [e for e in paths if e["backend"]["service"]["name"] != "lead-api"]

    def swap_backend(docs):
        for e in ingress(docs):
            if e["backend"]["service"]["name"] == "lead-api":
                e["backend"]["service"]["name"] = "auth-api"

    def catch_all(docs):
        ingress(docs).append({"path": "/", "pathType": "Prefix", "backend": {
            "service": {"name": "auth-api", "port": {"name": "http"}}}})

    def writable_root(docs):
        deployment(docs, "lead-api")["securityContext"]["readOnlyRootFilesystem"] = False

    def literal_secret(docs):
        for e in deployment(docs, "auth-api")["env"]:
            if e["name"] == "LEADGEN__DATABASE__URL":
                e.pop("valueFrom")
                e["value"] = "postgres://leadgen:hunter2@postgres:5432/leadgen"

    def no_audience(docs):
        env = deployment(docs, "lead-api")["env"]
        env[:] = [e for e in env if e["name"] != "LEADGEN__AUTH__AUDIENCE"]

    def no_readiness(docs):
        deployment(docs, "sync-worker").pop("readinessProbe")

    def keda_typo(docs):
        find(docs, "ScaledObject", "order-processor")["spec"]["maxReplicas"] = 4

    def keda_threshold(docs):
        find(docs, "ScaledObject", "sync-worker")["spec"]["triggers"][0]["metadata"]["value"] = "10"

    def short_grace(docs):
        pod_spec(find(docs, "Deployment", "auth-api"))["terminationGracePeriodSeconds"] = 20

    def open_policy(docs):
        find(docs, "NetworkPolicy", "lead-api")["spec"]["ingress"].append({})

    def k8s_schema(docs):
        find(docs, "Service", "auth-api")["spec"]["ports"][0]["port"] = "eighty"

    def more_api_replicas(docs):
        find(docs, "HorizontalPodAutoscaler", "lead-api")["spec"]["maxReplicas"] = 30

    def bigger_pool_in_toml(docs):
        cm = next(d for d in by_kind(docs, "ConfigMap")
                  if d["metadata"]["name"].startswith("sync-worker-config"))
        cm["data"]["prod.toml"] = "[database]\nmax_connections = 40\n"

    def bigger_pool_in_env(docs):
        deployment(docs, "order-processor")["env"].append(
            {"name": "LEADGEN__DATABASE__MAX_CONNECTIONS", "value": "20"})

    def worker_pool_below_prefetch(docs):
        cm = next(d for d in by_kind(docs, "ConfigMap")
                  if d["metadata"]["name"].startswith("order-processor-config"))
        cm["data"]["prod.toml"] = "[database]\nmax_connections = 5\n"

    def no_budget(docs):
        by_kind(docs, "Namespace")[0]["metadata"]["annotations"].pop(
            "leadgen/postgres-connection-budget")

    cases = [
        ("Ingress route dropped (lead-api)", mutated(drop_leads_route), None, "GET /api/v1/lead-generation/orders/leads"),
        ("Ingress backend swapped", mutated(swap_backend), None, "nginx template -> lead-api"),
        ("Ingress catch-all added", mutated(catch_all), None, "GET /healthz"),
        ("nginx template gains a route", prod, "add_location", "GET /api/v1/lead-generation/extra"),
        ("writable root filesystem", mutated(writable_root), None, "readOnlyRootFilesystem must be true"),
        ("literal secret in env", mutated(literal_secret), None, "has a literal value"),
        ("token audience unchecked", mutated(no_audience), None, "LEADGEN__AUTH__AUDIENCE must be set"),
        ("readiness probe removed", mutated(no_readiness), None, "readinessProbe missing"),
        ("ScaledObject field typo", mutated(keda_typo), None, "KEDA schema"),
        ("KEDA threshold not a multiple of prefetch", mutated(keda_threshold), None, "must be prefetch"),
        ("grace shorter than the drain", mutated(short_grace), None, "must exceed preStop"),
        ("NetworkPolicy opened to all", mutated(open_policy), None, "from anywhere"),
        ("Kubernetes schema violation", mutated(k8s_schema), None, "Kubernetes 1.30.0 schema"),
        ("more API replicas than the connection budget", mutated(more_api_replicas), None, "exceed the connection budget"),
        ("a larger pool in a service's prod.toml", mutated(bigger_pool_in_toml), None, "exceed the connection budget"),
        ("a larger pool through LEADGEN__DATABASE__MAX_CONNECTIONS", mutated(bigger_pool_in_env), None, "exceed the connection budget"),
        ("a worker's pool smaller than its prefetch", mutated(worker_pool_below_prefetch), None, "is below [amqp] prefetch"),
        ("no connection budget declared", mutated(no_budget), None, "must declare the PostgreSQL connection budget"),
    ]
    template = NGINX_TEMPLATE.read_text()
    extra = template.replace(
        "        location / {",
        "        location ^~ /api/v1/lead-generation/extra/ {\n"
        "            proxy_pass http://lead_api;\n        }\n\n        location / {", 1)
    if extra == template:
        return ["self-test cannot add a location to the nginx template (its `location /` moved)"]
    missed = []

    def report(label: str, problems: list[str], expect: str) -> None:
        hit = [x for x in problems if expect in x]
        status = "caught" if hit else "MISSED"
        print(f"  self-test: {label}: {status}" + (f" — {hit[0]}" if hit else ""))
        if not hit:
            missed.append(f"{label}: expected a problem containing {expect!r}, got {problems}")

    for label, r, template_change, expect in cases:
        text = extra if template_change == "add_location" else None
        report(label, check_all([r], text)[0], expect)

    # The renderers: the comparison sees a field and a hash suffix that differ, and
    # k8s/render.py refuses a kustomization field it does not implement.
    def other_rendering(docs):
        find(docs, "Deployment", "auth-api")["spec"]["revisionHistoryLimit"] = 4
        cm = next(d for d in by_kind(docs, "ConfigMap") if HASH_SUFFIX.match(d["metadata"]["name"]))
        cm["metadata"]["name"] = cm["metadata"]["name"][:-10] + "kkkkkkkkkk"

    p = Problems()
    compare_renderings(prod, mutated(other_rendering), "kustomize", "k8s/render.py", p)
    report("renderers disagree on a field", p.items, "spec.revisionHistoryLimit: 5 vs 4")
    report("renderers disagree on a hash suffix", p.items, "the hash suffixes differ")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "kustomization.yaml").write_text("resources: [cm.yaml]\nnamePrefix: x-\n")
        (Path(tmp) / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                                           "  name: c\n")
        proc = subprocess.run([sys.executable, str(K8S / "render.py"), tmp],
                              capture_output=True, text=True, check=False)
        problems = [proc.stderr.strip() or "(no message)"] if proc.returncode != 0 else []
        report("k8s/render.py meets a field it does not implement", problems,
               "not supported by k8s/render.py: namePrefix")
    return missed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kustomize", required=True,
                    help="the command that renders a kustomization directory, e.g. 'kubectl kustomize'")
    ap.add_argument("--compare", metavar="COMMAND",
                    help="a second renderer (e.g. 'python3 k8s/render.py'): every kustomization "
                         "must render to the same objects with both")
    ap.add_argument("--self-test", action="store_true",
                    help="also prove that broken copies of the manifests fail the checks")
    args = ap.parse_args()
    kustomize = shlex.split(args.kustomize)
    second = shlex.split(args.compare) if args.compare else []
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        jobs = [pool.submit(render, kustomize, r) for r in targets()]
        second_jobs = [pool.submit(render, second, r) for r in targets()] if second else []
        renderings = [j.result() for j in jobs]
        second_renderings = [j.result() for j in second_jobs]
    problems, stats = check_all(renderings)
    if second:
        p, compared = Problems(), 0
        for ref, other in zip(renderings, second_renderings):
            compared += compare_renderings(ref, other, renderer_label(kustomize),
                                           renderer_label(second), p)
        problems += p.items
        if not p.items:
            print(f"k8s check: {renderer_label(second)} and {renderer_label(kustomize)} render "
                  f"the same {compared} objects from the {len(renderings)} kustomizations")
    for account in stats["connections"]:
        print(f"k8s check: PostgreSQL connections at max replicas (pods×pool): {account}")
    for line in problems:
        print(f"FAIL {line}")
    print(f"k8s check: {len(renderings)} renderings ({', '.join(r.name for r in renderings)}) by "
          f"{renderer_label(kustomize)}, "
          f"{stats['objects']} objects against Kubernetes {KUBERNETES_VERSION} and KEDA schemas, "
          f"{stats['requests']} requests routed by both gateways, "
          f"{len(problems)} problems ({time.monotonic() - started:.1f} s)")
    if problems:
        return 1
    if args.self_test:
        missed = self_test(renderings)
        for line in missed:
            print(f"FAIL self-test {line}")
        if missed:
            return 1
        print("k8s check self-test: every break was caught")
    return 0


if __name__ == "__main__":
    sys.exit(main())
