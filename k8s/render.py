#!/usr/bin/env python3
"""A small kustomize renderer for this repository's kustomizations (k8s/README.md).

    python3 k8s/render.py <directory>      # prints what `kubectl kustomize <directory>` prints

It exists because a machine may have no usable kustomize offline: Debian bookworm packages
kubectl 1.20, whose kustomize (v2) rejects `components` (`json: unknown field "components"`),
and neither Debian nor PyPI packages kustomize itself. k8s/check.sh renders with it only when no
kustomize v5 is installed; when one is, it renders every kustomization with both and fails unless
they produce the same objects (names with their hash suffixes included).

It implements kustomize v5's semantics for exactly the features our kustomizations use, and
stops with an error on anything else rather than render it differently:

- Kustomization (kustomize.config.k8s.io/v1beta1) and Component (v1alpha1) files named
  kustomization.yaml, kustomization.yml or Kustomization;
- resources: YAML files inside the kustomization's directory, and directories holding a
  Kustomization (anywhere); components: directories holding a Component, applied to what the
  including kustomization has accumulated so far;
- namespace: metadata.namespace of every namespaced object (a v1 Namespace is renamed);
- images: name, newName, newTag, digest, on every `image` under `containers`/`initContainers`;
- labels: pairs with includeTemplates (never includeSelectors), on metadata and pod templates;
- configMapGenerator: name, namespace, behavior (create, merge, replace), files ([key=]path),
  literals, options (disableNameSuffixHash, labels, annotations); generatorOptions (same keys);
  the name's content-hash suffix computed as kustomize computes it, and references to the hashed
  ConfigMaps in pod specs rewritten;
- patches: JSON 6902 patches (inline or from a file) with a target (group, version, kind, name,
  namespace; name and namespace are regular expressions, anchored).

Not supported, an error: every other field (commonLabels, commonAnnotations, namePrefix,
nameSuffix, replicas, secretGenerator, patchesStrategicMerge, patchesJson6902, strategic-merge
patches, replacements, vars, crds, configurations, generators, transformers, helmCharts, …),
remote resources, label or annotation selectors in targets, List objects, binary files.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import sys
from pathlib import Path

try:
    import yaml
except ImportError:  # pragma: no cover - depends on the machine
    sys.exit("k8s/render.py needs PyYAML: run it with .run/k8s-venv/bin/python (k8s/check.sh "
             "creates that venv) or install python3-yaml")

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
KINDS = {
    "Kustomization": "kustomize.config.k8s.io/v1beta1",
    "Component": "kustomize.config.k8s.io/v1alpha1",
}
# The kustomization fields this renderer implements; any other one is an error.
FIELDS = {"apiVersion", "kind", "resources", "components", "namespace", "images", "labels",
          "configMapGenerator", "generatorOptions", "patches"}

# kustomize's legacy output order (api/resid/gvk.go): these kinds first, in this order; then
# every other kind; then the last ones. Within a rank by group_version_kind, then id.
ORDER_FIRST = ["Namespace", "ResourceQuota", "StorageClass", "CustomResourceDefinition",
               "ServiceAccount", "PodSecurityPolicy", "Role", "ClusterRole", "RoleBinding",
               "ClusterRoleBinding", "ConfigMap", "Secret", "Endpoints", "Service", "LimitRange",
               "PriorityClass", "PersistentVolume", "PersistentVolumeClaim", "Deployment",
               "StatefulSet", "CronJob", "PodDisruptionBudget"]
ORDER_LAST = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]

# Built-in cluster-scoped kinds by group: the namespace transformer leaves them alone. Any other
# kind (custom resources included) is namespaced, as kustomize assumes without a schema.
CLUSTER_SCOPED = {
    ("", "Namespace"), ("", "Node"), ("", "PersistentVolume"), ("", "ComponentStatus"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding"),
    ("storage.k8s.io", "StorageClass"), ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"), ("storage.k8s.io", "VolumeAttachment"),
    ("storage.k8s.io", "VolumeAttributesClass"),
    ("scheduling.k8s.io", "PriorityClass"), ("node.k8s.io", "RuntimeClass"),
    ("networking.k8s.io", "IngressClass"), ("networking.k8s.io", "IPAddress"),
    ("networking.k8s.io", "ServiceCIDR"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("certificates.k8s.io", "ClusterTrustBundle"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("policy", "PodSecurityPolicy"),
    ("authentication.k8s.io", "TokenReview"), ("authentication.k8s.io", "SelfSubjectReview"),
    ("authorization.k8s.io", "SubjectAccessReview"),
    ("authorization.k8s.io", "SelfSubjectAccessReview"),
    ("authorization.k8s.io", "SelfSubjectRulesReview"),
    ("resource.k8s.io", "DeviceClass"), ("resource.k8s.io", "ResourceSlice"),
}
# Kinds whose namespace kustomize also writes elsewhere (role binding subjects, webhook and
# API service references): not implemented, so a namespace over them is an error.
NAMESPACE_UNSUPPORTED = {"RoleBinding", "ClusterRoleBinding", "APIService",
                         "CustomResourceDefinition", "MutatingWebhookConfiguration",
                         "ValidatingWebhookConfiguration"}

# labels with includeTemplates: kustomize's template label field specs, as
# (group or None for any, version or None, kind, path).
TEMPLATE_LABELS = [
    (None, "v1", "ReplicationController", "spec/template/metadata/labels"),
    (None, None, "Deployment", "spec/template/metadata/labels"),
    (None, None, "ReplicaSet", "spec/template/metadata/labels"),
    (None, None, "DaemonSet", "spec/template/metadata/labels"),
    ("apps", None, "StatefulSet", "spec/template/metadata/labels"),
    ("apps", None, "StatefulSet", "spec/volumeClaimTemplates[]/metadata/labels"),
    ("batch", None, "Job", "spec/template/metadata/labels"),
    ("batch", None, "CronJob", "spec/jobTemplate/metadata/labels"),
    ("batch", None, "CronJob", "spec/jobTemplate/spec/template/metadata/labels"),
]

# Where kustomize's name references to a ConfigMap live (its nameReference field specs):
# the pod spec of each kind, then the fields under it.
POD_SPECS = {
    "Pod": "spec", "PodTemplate": "template/spec",
    "Deployment": "spec/template/spec", "ReplicaSet": "spec/template/spec",
    "DaemonSet": "spec/template/spec", "StatefulSet": "spec/template/spec",
    "Job": "spec/template/spec", "CronJob": "spec/jobTemplate/spec/template/spec",
}
CONFIGMAP_REFS_IN_POD_SPEC = [
    "volumes/configMap/name",
    "containers/env/valueFrom/configMapKeyRef/name",
    "initContainers/env/valueFrom/configMapKeyRef/name",
    "containers/envFrom/configMapRef/name",
    "initContainers/envFrom/configMapRef/name",
    "volumes/projected/sources/configMap/name",
]
# Kinds that may also name a ConfigMap (rules/resourceNames, an annotation, configSource): the
# rewriting there is not implemented, so such a reference to a hashed ConfigMap is an error.
CONFIGMAP_REFS_UNSUPPORTED = {"Role", "ClusterRole", "Node", "Ingress"}

CONFIGMAP_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


class RenderError(Exception):
    pass


def fail(message: str) -> None:
    raise RenderError(message)


def rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------------------------
# Resources


class Resource:
    def __init__(self, obj: dict, origin: str) -> None:
        if not isinstance(obj, dict):
            fail(f"{origin}: a document is not a mapping")
        for key in ("apiVersion", "kind"):
            if not isinstance(obj.get(key), str) or not obj[key]:
                fail(f"{origin}: an object without {key}")
        meta = obj.get("metadata")
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
            fail(f"{origin}: {obj['kind']} without metadata.name")
        if obj["kind"].endswith("List") and "items" in obj:
            fail(f"{origin}: {obj['kind']}: List objects are not supported")
        self.obj = obj
        self.origin = origin
        # (namespace, name) before each namespace or name change, oldest first.
        self.history: list[tuple[str, str]] = []
        self.needs_hash = False
        self.behavior = "create"

    @property
    def kind(self) -> str:
        return self.obj["kind"]

    @property
    def group(self) -> str:
        api = self.obj["apiVersion"]
        return api.rsplit("/", 1)[0] if "/" in api else ""

    @property
    def version(self) -> str:
        return self.obj["apiVersion"].rsplit("/", 1)[-1]

    @property
    def name(self) -> str:
        return self.obj["metadata"]["name"]

    @property
    def namespace(self) -> str:
        return self.obj["metadata"].get("namespace") or ""

    def cluster_scoped(self) -> bool:
        return (self.group, self.kind) in CLUSTER_SCOPED

    def rid(self, namespace: str, name: str) -> tuple:
        if self.cluster_scoped():
            ns = "~cluster"
        else:
            ns = namespace if namespace not in ("", "default") else "default"
        return (self.group, self.version, self.kind, ns, name)

    def cur_id(self) -> tuple:
        return self.rid(self.namespace, self.name)

    def org_id(self) -> tuple:
        return self.rid(*self.history[0]) if self.history else self.cur_id()

    def all_ids(self) -> list[tuple]:
        return [self.rid(ns, n) for ns, n in self.history] + [self.cur_id()]

    def store_previous(self) -> None:
        self.history.append((self.namespace, self.name))

    def describe(self) -> str:
        ns = f" in namespace {self.namespace}" if self.namespace else ""
        return f"{self.kind}/{self.name}{ns}"


def append(ra: list[Resource], res: Resource) -> None:
    cur = res.cur_id()
    if any(r.cur_id() == cur for r in ra):
        fail(f"{res.origin}: {res.describe()} is already defined (kustomize: may not add "
             "resource with an already registered id)")
    ra.append(res)


def append_replace_or_merge(ra: list[Resource], res: Resource) -> None:
    """kustomize's resWrangler.appendReplaceOrMerge, for generated objects."""
    cur = res.cur_id()
    matches = [r for r in ra if cur in r.all_ids()]
    if not matches:
        if res.behavior in ("merge", "replace"):
            fail(f"{res.origin}: {res.describe()} does not exist; cannot {res.behavior} it")
        append(ra, res)
        return
    if len(matches) > 1:
        fail(f"{res.origin}: several objects could accept the {res.behavior} of "
             f"{res.describe()}: {', '.join(m.describe() for m in matches)}")
    old = matches[0]
    if res.behavior == "create":
        fail(f"{res.origin}: {res.describe()} already exists; behavior must be merge or replace")
    meta, old_meta = res.obj["metadata"], old.obj["metadata"]
    for field in ("labels", "annotations"):
        merged = {**(old_meta.get(field) or {}), **(meta.get(field) or {})}
        if merged:
            meta[field] = merged
        else:
            meta.pop(field, None)
    meta["name"] = old.name
    if old.namespace:
        meta["namespace"] = old.namespace
    else:
        meta.pop("namespace", None)
    if res.behavior == "merge":
        data = {**(old.obj.get("data") or {}), **(res.obj.get("data") or {})}
        if data:
            res.obj["data"] = data
    # The build annotations (the hash suffix, the id history) come from the old object.
    res.history = list(old.history)
    res.needs_hash = old.needs_hash
    res.behavior = "create"
    ra[ra.index(old)] = res


# --------------------------------------------------------------------------------------------
# Loading


class Loader(yaml.SafeLoader):
    """Resources as kustomize reads them, YAML 1.2 (kyaml), where PyYAML reads YAML 1.1: an
    unquoted scalar the two disagree on (yes/no/on/off, dates, 0755, 1e3, 1_000, .inf, 1:30) is
    an error here, to be quoted, rather than a different rendering."""


class KustomizationLoader(Loader):
    """Kustomizations (and their patches) as kustomize reads them, YAML 1.1 (sigs.k8s.io/yaml),
    which also reads y/Y/n/N as booleans where PyYAML reads strings: those are errors too."""


def _ambiguous(loader: Loader, node: yaml.Node):
    raise yaml.constructor.ConstructorError(
        None, None, f"the unquoted {node.value!r} is read differently by kustomize and PyYAML "
        "(YAML 1.1 and 1.2 disagree): quote it", node.start_mark)


Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag == "tag:yaml.org,2002:merge"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _tag, _rx, _first in [
    ("tag:yaml.org,2002:bool", r"true|True|TRUE|false|False|FALSE", "tTfF"),
    ("tag:yaml.org,2002:null", r"~|null|Null|NULL|", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:int", r"[-+]?(?:0|[1-9][0-9]*)|0x[0-9a-fA-F]+", "-+0123456789"),
    ("tag:yaml.org,2002:float", r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?",
     "-+0123456789."),
    ("!ambiguous", r"yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF"
     r"|[-+]?0[0-9_]+|[-+]?[0-9]+[eE][-+]?[0-9]+|0b[01_]+|0o[0-7_]+"
     r"|[-+]?[0-9][0-9_]*_[0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?"
     r"|[-+]?[0-9][0-9_]*\.[0-9]*_[0-9_]*(?:[eE][-+]?[0-9]+)?"
     r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?"
     r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
     r"|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:(?:[Tt]|[ \t]+).*)?",
     "-+.0123456789yYnNoO"),
]:
    Loader.add_implicit_resolver(_tag, re.compile(f"^(?:{_rx})$"), list(_first))
Loader.add_constructor("!ambiguous", _ambiguous)
KustomizationLoader.add_implicit_resolver("!ambiguous", re.compile("^(?:y|Y|n|N)$"),
                                          list("yYnN"))


def load_yaml_docs(path: Path, loader=Loader) -> list:
    try:
        text = path.read_text(encoding="utf-8")
        return [d for d in yaml.load_all(text, Loader=loader) if d is not None]
    except (UnicodeDecodeError, yaml.YAMLError) as e:
        fail(f"{rel(path)}: {e}")
    return []


def inside(root: Path, entry: str, what: str) -> Path:
    """A file a kustomization reads: kustomize's default load restrictor keeps it under root."""
    if re.match(r"^[a-z][a-z0-9+.-]*://", entry) or entry.startswith(("git@", "github.com/")):
        fail(f"{rel(root)}: {what} {entry}: remote files are not supported")
    path = (root / entry).resolve()
    if path != root and root not in path.parents:
        fail(f"{rel(root)}: {what} {entry} is outside the kustomization's directory "
             "(kustomize's load restrictor forbids it)")
    if not path.is_file():
        fail(f"{rel(root)}: {what} {entry}: no such file")
    return path


def read_kustomization(root: Path, expected_kind: str | None) -> dict:
    """The kustomization in root; expected_kind None (the directory built) accepts both."""
    found = [root / f for f in KUSTOMIZATION_FILES if (root / f).is_file()]
    if not found:
        fail(f"{rel(root)}: no kustomization file ({', '.join(KUSTOMIZATION_FILES)})")
    if len(found) > 1:
        fail(f"{rel(root)}: several kustomization files: {', '.join(f.name for f in found)}")
    docs = load_yaml_docs(found[0], KustomizationLoader)
    if len(docs) != 1 or not isinstance(docs[0], dict):
        fail(f"{rel(found[0])}: a kustomization is one YAML mapping")
    k = docs[0]
    kind = k.get("kind") or "Kustomization"
    if kind not in KINDS:
        fail(f"{rel(found[0])}: kind {kind} is not Kustomization or Component")
    if k.get("apiVersion", KINDS[kind]) != KINDS[kind]:
        fail(f"{rel(found[0])}: apiVersion {k.get('apiVersion')} (expected {KINDS[kind]})")
    if expected_kind and kind != expected_kind:
        how = "components" if expected_kind == "Component" else "resources"
        fail(f"{rel(found[0])}: listed in {how}, so it must be a {expected_kind}, not a {kind}")
    unknown = sorted(set(k) - FIELDS)
    if unknown:
        fail(f"{rel(found[0])}: not supported by k8s/render.py: {', '.join(unknown)} "
             "(render with kustomize v5, e.g. `kubectl kustomize`, or extend k8s/render.py and "
             "let k8s/check.sh compare the two)")
    return k


def check_keys(where: str, value, allowed: set[str], what: str) -> dict:
    if not isinstance(value, dict):
        fail(f"{where}: {what} must be a mapping")
    unknown = sorted(set(value) - allowed)
    if unknown:
        fail(f"{where}: {what}: not supported by k8s/render.py: {', '.join(unknown)}")
    return value


def string_list(where: str, value, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        fail(f"{where}: {what} must be a list of strings")
    return value


def entries(where: str, value, what: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        fail(f"{where}: {what} must be a list")
    return value


def string_map(where: str, value, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        fail(f"{where}: {what} must map strings to strings (quote numbers and booleans)")
    return value


# --------------------------------------------------------------------------------------------
# Accumulation (kustomize's KustTarget.accumulateTarget)


def accumulate(root: Path, ra: list[Resource], kind: str | None,
               stack: tuple[Path, ...]) -> None:
    if root in stack:
        fail(f"{rel(root)}: a cycle of kustomizations: "
             f"{' -> '.join(rel(p) for p in (*stack, root))}")
    stack = (*stack, root)
    k = read_kustomization(root, kind)
    where = rel(root)
    for entry in string_list(where, k.get("resources"), "resources"):
        path = (root / entry).resolve()
        if path.is_dir():
            sub: list[Resource] = []
            accumulate(path, sub, "Kustomization", stack)
            for res in sub:
                append(ra, res)
        else:
            path = inside(root, entry, "resource")
            for doc in load_yaml_docs(path):
                append(ra, Resource(doc, rel(path)))
    for entry in string_list(where, k.get("components"), "components"):
        path = (root / entry).resolve()
        if not path.is_dir():
            fail(f"{where}: component {entry} is not a directory")
        accumulate(path, ra, "Component", stack)
    generate_configmaps(root, k, ra)
    # The builtin transformers, in kustomize's order (patches, namespace, labels, images).
    for patch in entries(where, k.get("patches"), "patches"):
        apply_patch(root, patch, ra)
    if k.get("namespace") is not None:
        set_namespace(where, k["namespace"], ra)
    for label in entries(where, k.get("labels"), "labels"):
        add_labels(where, label, ra)
    for image in entries(where, k.get("images"), "images"):
        set_image(where, image, ra)


# --------------------------------------------------------------------------------------------
# configMapGenerator


GENERATOR_KEYS = {"name", "namespace", "behavior", "files", "literals", "options"}
OPTION_KEYS = {"disableNameSuffixHash", "labels", "annotations"}


def generator_options(where: str, local, global_) -> dict:
    """kustomize's MergeGlobalOptionsIntoLocal: local labels/annotations win."""
    local = check_keys(where, local or {}, OPTION_KEYS, "options")
    global_ = check_keys(where, global_ or {}, OPTION_KEYS, "generatorOptions")
    out = {}
    for key in ("labels", "annotations"):
        merged = {**string_map(where, global_.get(key), f"generatorOptions.{key}"),
                  **string_map(where, local.get(key), f"options.{key}")}
        if merged:
            out[key] = merged
    for opts in (local, global_):
        flag = opts.get("disableNameSuffixHash", False)
        if not isinstance(flag, bool):
            fail(f"{where}: disableNameSuffixHash must be true or false")
    out["disableNameSuffixHash"] = bool(local.get("disableNameSuffixHash")
                                        or global_.get("disableNameSuffixHash"))
    return out


def generate_configmaps(root: Path, k: dict, ra: list[Resource]) -> None:
    where = rel(root)
    for args in entries(where, k.get("configMapGenerator"), "configMapGenerator"):
        check_keys(where, args, GENERATOR_KEYS, "configMapGenerator entry")
        name = args.get("name")
        if not isinstance(name, str) or not name:
            fail(f"{where}: a configMapGenerator entry without a name")
        here = f"{where}: configMapGenerator {name}"
        behavior = args.get("behavior") or "create"
        if behavior not in ("create", "merge", "replace"):
            fail(f"{here}: behavior {behavior!r} (create, merge or replace)")
        options = generator_options(here, args.get("options"), k.get("generatorOptions"))
        data: dict[str, str] = {}

        def put(key: str, value: str) -> None:
            if not CONFIGMAP_KEY.match(key):
                fail(f"{here}: {key!r} is not a valid ConfigMap key")
            if key in data:
                fail(f"{here}: the key {key} appears twice")
            data[key] = value

        for lit in string_list(here, args.get("literals"), "literals"):
            if "=" not in lit or lit.startswith("="):
                fail(f"{here}: literal {lit!r} is not key=value")
            key, value = lit.split("=", 1)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            put(key, value)
        for spec in string_list(here, args.get("files"), "files"):
            key, sep, file = spec.partition("=")
            if not sep:
                key, file = Path(spec).name, spec
            if not key or not file:
                fail(f"{here}: file source {spec!r} is not [key=]path")
            path = inside(root, file, "configMapGenerator file")
            try:
                put(key, path.read_bytes().decode("utf-8"))
            except UnicodeDecodeError:
                fail(f"{here}: {file} is not UTF-8 (binaryData is not supported)")
        meta: dict = {"name": name}
        if args.get("namespace"):
            if not isinstance(args["namespace"], str):
                fail(f"{here}: namespace must be a string")
            meta["namespace"] = args["namespace"]
        for key in ("labels", "annotations"):
            if key in options:
                meta[key] = dict(options[key])
        obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}
        if data:
            obj["data"] = data
        res = Resource(obj, here)
        res.behavior = behavior
        res.needs_hash = not options["disableNameSuffixHash"]
        append_replace_or_merge(ra, res)


# --------------------------------------------------------------------------------------------
# Transformers


def set_namespace(where: str, namespace, ra: list[Resource]) -> None:
    if not isinstance(namespace, str) or not namespace:
        fail(f"{where}: namespace must be a non-empty string")
    for res in ra:
        if res.kind in NAMESPACE_UNSUPPORTED:
            fail(f"{where}: namespace over {res.describe()}: kustomize also rewrites its "
                 "references' namespaces, which k8s/render.py does not implement")
        res.store_previous()
        if not res.cluster_scoped():
            res.obj["metadata"]["namespace"] = namespace
        elif res.kind == "Namespace" and res.obj["apiVersion"] == "v1":
            res.obj["metadata"]["name"] = namespace
    seen: dict[tuple, Resource] = {}
    for res in ra:
        if res.cur_id() in seen:
            fail(f"{where}: namespace {namespace} makes {res.describe()} collide with another "
                 "object")
        seen[res.cur_id()] = res


def field_spec_applies(res: Resource, group, version, kind) -> bool:
    return (res.kind == kind and (group is None or res.group == group)
            and (version is None or res.version == version))


def set_labels_at(node, parts: list[str], labels: dict[str, str], where: str) -> None:
    """Sets labels at a field-spec path, creating missing maps (`create: true`)."""
    if not parts:
        if not isinstance(node, dict):
            fail(f"{where}: a labels field is not a mapping")
        node.update(labels)
        return
    part, rest = parts[0], parts[1:]
    if part.endswith("[]"):
        seq = node.get(part[:-2])
        if seq is None:
            return
        if not isinstance(seq, list):
            fail(f"{where}: {part[:-2]} is not a list")
        for item in seq:
            if not isinstance(item, dict):
                fail(f"{where}: an item of {part[:-2]} is not a mapping")
            set_labels_at(item, rest, labels, where)
        return
    if node.get(part) is None:
        node[part] = {}
    if not isinstance(node[part], dict):
        fail(f"{where}: {part} is not a mapping")
    set_labels_at(node[part], rest, labels, where)


def add_labels(where: str, label, ra: list[Resource]) -> None:
    check_keys(where, label, {"pairs", "includeTemplates", "includeSelectors"}, "labels entry")
    pairs = string_map(where, label.get("pairs"), "labels pairs")
    if label.get("includeSelectors"):
        fail(f"{where}: labels with includeSelectors: true are not supported by k8s/render.py")
    templates = label.get("includeTemplates", False)
    if not isinstance(templates, bool):
        fail(f"{where}: includeTemplates must be true or false")
    if not pairs:
        return
    for res in ra:
        set_labels_at(res.obj, ["metadata", "labels"], pairs, res.describe())
        if templates:
            for group, version, kind, path in TEMPLATE_LABELS:
                if field_spec_applies(res, group, version, kind):
                    set_labels_at(res.obj, path.split("/"), pairs, res.describe())


def split_image(image: str) -> tuple[str, str, str]:
    """kustomize's image.Split: name, tag, digest (a registry's port is not a tag)."""
    slash = image.find("/")
    search, offset = (image[slash:], slash) if slash > 0 else (image, 0)
    at, colon = search.find("@"), search.find(":")
    if at < 0 and colon < 0:
        return image, "", ""
    if at >= 0 and (colon < 0 or at < colon):
        return image[: at + offset], "", image[at + offset + 1:]
    if at >= 0:
        return (image[: colon + offset], image[colon + offset + 1: at + offset],
                image[at + offset + 1:])
    return image[: colon + offset], image[colon + offset + 1:], ""


def set_image(where: str, image, ra: list[Resource]) -> None:
    check_keys(where, image, {"name", "newName", "newTag", "digest"}, "images entry")
    name = image.get("name")
    if not isinstance(name, str) or not name:
        fail(f"{where}: an images entry without a name")
    for key in ("newName", "newTag", "digest"):
        if key in image and not isinstance(image[key], str):
            fail(f"{where}: images {name}: {key} must be a string (quote it)")
    tag = r"[a-zA-Z0-9_.{}-]*"
    pattern = re.compile(f"^{name}(@sha256)?(:{tag})?(@sha256:{tag})?$")

    def update(value: str) -> str:
        if not pattern.match(value):
            return value
        base, tag, digest = split_image(value)
        base = image.get("newName") or base
        if image.get("newTag") and image.get("digest"):
            tag, digest = image["newTag"], image["digest"]
        elif image.get("newTag"):
            tag, digest = image["newTag"], ""
        elif image.get("digest"):
            tag, digest = "", image["digest"]
        return base + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")

    def walk(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("containers", "initContainers") and isinstance(value, list):
                    for c in value:
                        if isinstance(c, dict) and isinstance(c.get("image"), str):
                            c["image"] = update(c["image"])
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for res in ra:
        if res.kind != "CustomResourceDefinition":
            walk(res.obj)


# --------------------------------------------------------------------------------------------
# patches (JSON 6902 only)


TARGET_KEYS = {"group", "version", "kind", "name", "namespace"}


def select(where: str, target, ra: list[Resource]) -> list[Resource]:
    """kustomize's resWrangler.Select: name and namespace regexps against the original or the
    current id, group/version/kind by equality."""
    check_keys(where, target, TARGET_KEYS, "patch target")
    for key, value in target.items():
        if not isinstance(value, str):
            fail(f"{where}: patch target {key} must be a string")

    def rx(key):
        value = target.get(key)
        return re.compile(f"^(?:{value})$") if value else None

    name_rx, ns_rx = rx("name"), rx("namespace")
    out = []
    for res in ra:
        org, cur = res.org_id(), res.cur_id()
        if ns_rx and not (ns_rx.match(org[3]) or ns_rx.match(cur[3])):
            continue
        if name_rx and not (name_rx.match(org[4]) or name_rx.match(cur[4])):
            continue
        if any(target.get(k) and target[k] != v
               for k, v in (("group", res.group), ("version", res.version), ("kind", res.kind))):
            continue
        out.append(res)
    return out


def apply_patch(root: Path, patch, ra: list[Resource]) -> None:
    where = rel(root)
    check_keys(where, patch, {"patch", "path", "target"}, "patches entry")
    if ("patch" in patch) == ("path" in patch):
        fail(f"{where}: a patches entry needs exactly one of patch and path")
    if "path" in patch:
        path = inside(root, patch["path"], "patch")
        docs = load_yaml_docs(path, KustomizationLoader)
        ops = docs[0] if len(docs) == 1 else docs
    else:
        if not isinstance(patch["patch"], str):
            fail(f"{where}: patch must be a string")
        try:
            ops = yaml.load(patch["patch"], Loader=KustomizationLoader)
        except yaml.YAMLError as e:
            fail(f"{where}: patch: {e}")
    if not isinstance(ops, list):
        fail(f"{where}: strategic-merge patches are not supported by k8s/render.py "
             "(write it as a JSON 6902 patch: a list of operations)")
    if "target" not in patch:
        fail(f"{where}: a JSON 6902 patch needs a target")
    for res in select(where, patch["target"], ra):
        before = (res.obj["apiVersion"], res.kind, res.name, res.namespace)
        doc = copy.deepcopy(res.obj)
        for op in ops:
            doc = json_patch_op(f"{where}: patch on {res.describe()}", doc, op)
        if not isinstance(doc, dict):
            fail(f"{where}: patch on {res.describe()} leaves no object")
        res.obj = doc
        try:
            after = (res.obj["apiVersion"], res.kind, res.name, res.namespace)
        except (KeyError, TypeError):
            after = None
        if after != before:
            fail(f"{where}: a patch changing apiVersion, kind, name or namespace of "
                 f"{'/'.join(map(str, before[1:3]))} is not supported by k8s/render.py")


def pointer(where: str, path) -> list[str]:
    if not isinstance(path, str) or not path.startswith("/"):
        fail(f"{where}: JSON pointer {path!r} must start with /")
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def index(where: str, seq: list, token: str, adding: bool) -> int:
    if adding and token == "-":
        return len(seq)
    if not re.fullmatch(r"0|[1-9][0-9]*", token):
        fail(f"{where}: {token!r} is not an array index (negative indices are not supported)")
    i = int(token)
    if i > len(seq) or (i == len(seq) and not adding):
        fail(f"{where}: index {i} is out of range")
    return i


def parent_of(where: str, doc, parts: list[str]):
    node = doc
    for token in parts[:-1]:
        if isinstance(node, dict):
            if token not in node:
                fail(f"{where}: no {token} on the path")
            node = node[token]
        elif isinstance(node, list):
            node = node[index(where, node, token, False)]
        else:
            fail(f"{where}: {token} is below a scalar")
    return node


def json_patch_op(where: str, doc, op):
    """One RFC 6902 operation, as evanphx/json-patch (kustomize's library) applies it."""
    if not isinstance(op, dict) or op.get("op") not in (
            "add", "remove", "replace", "move", "copy", "test"):
        fail(f"{where}: {op!r} is not a JSON patch operation")
    kind = op["op"]
    where = f"{where}: {kind} {op.get('path')}"
    parts = pointer(where, op.get("path"))
    if not parts:
        fail(f"{where}: operations on the whole document are not supported")
    if kind in ("add", "replace", "test") and "value" not in op:
        fail(f"{where}: no value")

    def get(parts_):
        parent = parent_of(where, doc, parts_)
        last = parts_[-1]
        if isinstance(parent, dict):
            if last not in parent:
                fail(f"{where}: the document has no {last}")
            return parent[last]
        if isinstance(parent, list):
            return parent[index(where, parent, last, False)]
        fail(f"{where}: {last} is below a scalar")

    def remove(parts_):
        parent = parent_of(where, doc, parts_)
        last = parts_[-1]
        if isinstance(parent, dict):
            if last not in parent:
                fail(f"{where}: the document has no {last}")
            return parent.pop(last)
        if isinstance(parent, list):
            return parent.pop(index(where, parent, last, False))
        fail(f"{where}: {last} is below a scalar")

    def add(parts_, value):
        parent = parent_of(where, doc, parts_)
        last = parts_[-1]
        if isinstance(parent, dict):
            parent[last] = value
        elif isinstance(parent, list):
            parent.insert(index(where, parent, last, True), value)
        else:
            fail(f"{where}: {last} is below a scalar")

    if kind == "add":
        add(parts, copy.deepcopy(op["value"]))
    elif kind == "remove":
        remove(parts)
    elif kind == "replace":
        parent = parent_of(where, doc, parts)
        last = parts[-1]
        if isinstance(parent, dict):
            if last not in parent:
                fail(f"{where}: the document has no {last} to replace")
            parent[last] = copy.deepcopy(op["value"])
        elif isinstance(parent, list):
            parent[index(where, parent, last, False)] = copy.deepcopy(op["value"])
        else:
            fail(f"{where}: {last} is below a scalar")
    elif kind == "test":
        if get(parts) != op["value"]:
            fail(f"{where}: test failed")
    else:
        source = pointer(where, op.get("from"))
        if not source:
            fail(f"{where}: from the whole document is not supported")
        value = remove(source) if kind == "move" else copy.deepcopy(get(source))
        add(parts, value)
    return doc


# --------------------------------------------------------------------------------------------
# Name hashes, references, order


def go_json(value) -> str:
    """encoding/json's Marshal: sorted keys, no spaces, HTML characters escaped."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def configmap_hash(obj: dict) -> str:
    """kustomize's hasher (api/hasher): sha256 of the JSON of kind, name and data (binaryData
    when set), its first 10 hex digits with 0 1 3 a e replaced (no vowels, no words).

    The name is always "": kustomize v5 looks it up with yaml.Lookup("metadata/name"), a single
    field literally named `metadata/name`, which no object has. So the name does not enter the
    hash (kubectl's kustomize v5.5 gives `a-h2794dt8gt` for `a` holding one=1, the hash of
    {"data":{"one":"1"},"kind":"ConfigMap","name":""})."""
    data = obj.get("data")
    encoded = {"kind": "ConfigMap", "name": "", "data": data if isinstance(data, dict) else ""}
    if isinstance(obj.get("binaryData"), dict):
        encoded["binaryData"] = obj["binaryData"]
    digest = hashlib.sha256(go_json(encoded).encode("utf-8")).hexdigest()[:10]
    return digest.translate(str.maketrans("013ae", "ghkmt"))


def refs_at(node, parts: list[str]):
    """(container, key) pairs of the field-spec path under node (lists are walked through)."""
    if isinstance(node, list):
        for item in node:
            yield from refs_at(item, parts)
        return
    if not isinstance(node, dict) or parts[0] not in node:
        return
    if len(parts) == 1:
        yield node, parts[0]
    else:
        yield from refs_at(node[parts[0]], parts[1:])


def finish(ra: list[Resource]) -> None:
    """The last steps of a build: hash suffixes, then the references to renamed ConfigMaps."""
    for res in ra:
        for key in ("labels", "annotations"):
            value = res.obj["metadata"].get(key, {})
            if not isinstance(value, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
                fail(f"{res.origin}: {res.describe()}: metadata.{key} must map strings to "
                     "strings (kustomize drops or rewrites anything else)")
    for res in ra:
        if res.needs_hash:
            if res.kind != "ConfigMap":
                fail(f"{res.describe()}: only ConfigMaps get a hash suffix here")
            suffix = configmap_hash(res.obj)
            res.store_previous()
            res.obj["metadata"]["name"] = f"{res.name}-{suffix}"
    configmaps = [r for r in ra if r.kind == "ConfigMap" and r.group == "" and r.version == "v1"]
    hashed_names = {n for r in configmaps if r.needs_hash for _, n in r.history}
    for res in ra:
        if res.kind in CONFIGMAP_REFS_UNSUPPORTED and hashed_names:
            text = json.dumps(res.obj)
            hit = sorted(n for n in hashed_names if json.dumps(n) in text)
            if hit:
                fail(f"{res.describe()} may name the hashed ConfigMap {hit[0]}: kustomize rewrites "
                     f"such references in a {res.kind}, k8s/render.py does not")
        spec_path = POD_SPECS.get(res.kind)
        if spec_path is None or (res.kind == "Pod" and res.version != "v1"):
            continue
        for ref in CONFIGMAP_REFS_IN_POD_SPEC:
            for holder, key in refs_at(res.obj, f"{spec_path}/{ref}".split("/")):
                value = holder[key]
                if not isinstance(value, str):
                    continue
                candidates = [
                    cm for cm in configmaps
                    if (res.cluster_scoped() or cm.cur_id()[3] == res.cur_id()[3])
                    and any(i[4] == value for i in cm.all_ids())
                ]
                names = {cm.name for cm in candidates}
                if len(names) > 1:
                    fail(f"{res.describe()}: the ConfigMap reference {value} is ambiguous: "
                         f"{', '.join(sorted(names))}")
                if names:
                    holder[key] = names.pop()


def sort_key(res: Resource):
    kind = res.kind
    if kind in ORDER_FIRST:
        rank = ORDER_FIRST.index(kind) - len(ORDER_FIRST)
    elif kind in ORDER_LAST:
        rank = 1 + ORDER_LAST.index(kind)
    else:
        rank = 0
    gvk = "_".join([res.group or "~G", res.version or "~V", kind])
    ns = res.namespace if res.namespace not in ("", "default") else ""
    return (rank, gvk, res.name, ns)


def build(directory: str) -> list[dict]:
    root = Path(directory).resolve()
    if not root.is_dir():
        fail(f"{directory}: not a directory")
    ra: list[Resource] = []
    accumulate(root, ra, None, ())
    finish(ra)
    return [r.obj for r in sorted(ra, key=sort_key)]


# --------------------------------------------------------------------------------------------
# Output


class Dumper(yaml.SafeDumper):
    """YAML as kustomize writes it: sorted keys, block lists, `|` for multi-line strings, double
    quotes where quotes are needed."""

    def choose_scalar_style(self):
        style = super().choose_scalar_style()
        return '"' if style == "'" else style


def _str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


Dumper.add_representer(str, _str)


def to_yaml(objs: list[dict]) -> str:
    return "---\n".join(
        yaml.dump(o, Dumper=Dumper, sort_keys=True, default_flow_style=False,
                  allow_unicode=True, width=1 << 16)
        for o in objs)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0].startswith("-"):
        print(__doc__.split("\n\n")[1] if argv and argv[0] in ("-h", "--help")
              else "usage: k8s/render.py <kustomization directory>", file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    try:
        out = to_yaml(build(argv[0]))
    except RenderError as e:
        print(f"k8s/render.py: {e}", file=sys.stderr)
        return 1
    sys.stdout.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
