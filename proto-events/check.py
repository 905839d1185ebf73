#!/usr/bin/env python3
"""Checks the event contract as a subscribing team reads it, offline (run by `make test`):

- every example under examples/ validates against the JSON Schema of the same name under
  schemas/ (the Rust tests only parse the examples with serde, which is lenient);
- asyncapi.yaml parses; every channel is a `subscribe` operation (AsyncAPI 2: what the
  application publishes) whose message points at an existing schema and example, and whose
  content type is the one the broker publishes with.

`--self-test` also proves that a broken copy fails. It needs jsonschema and PyYAML: `make
events-check` runs it with the python of the checks' venv (.run/k8s-venv, k8s/requirements.txt,
made by deploy/scripts/lib.sh's ensure_tools_venv), not with the system python.
"""

import copy
import json
import pathlib
import re
import sys

import jsonschema
import yaml

ROOT = pathlib.Path(__file__).resolve().parent
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


# RFC 3339 date-time (§5.6) as the contract promises it: UTC (`Z`), with any fraction of a
# second or none. jsonschema checks the format only with optional packages installed; this one is
# checked whatever is installed.
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date-time")
def is_date_time(value):
    return not isinstance(value, str) or bool(DATE_TIME.match(value))


@FORMATS.checks("uuid")
def is_uuid(value):
    return not isinstance(value, str) or bool(UUID.match(value))


def example_problems(schema, example, name):
    validator = jsonschema.validators.validator_for(schema)(schema, format_checker=FORMATS)
    return [f"{name}: {e.json_path}: {e.message}" for e in validator.iter_errors(example)]


def check_examples():
    problems, pairs = [], 0
    for example_path in sorted(ROOT.glob("**/examples/**/*.json")):
        relative = example_path.relative_to(ROOT)
        parts = list(relative.parts)
        index = parts.index("examples")
        schema_path = ROOT.joinpath(*parts[:index], "schemas", *parts[index + 1 :])
        if not schema_path.exists():
            # The scorer's examples sit beside its schemas (scorer/examples → scorer/*.json).
            schema_path = ROOT.joinpath(*parts[:index], *parts[index + 1 :])
        if not schema_path.exists():
            problems.append(f"{relative}: no schema of the same name")
            continue
        pairs += 1
        problems += example_problems(load(schema_path), load(example_path), str(relative))
    return problems, pairs


def resolve(doc, ref):
    """The object a local `#/a/b` reference points at ({} when it points nowhere)."""
    node = doc
    for part in ref[2:].split("/"):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node


def asyncapi_problems(doc):
    problems = []
    if doc.get("defaultContentType") != CONTENT_TYPE:
        problems.append(f"defaultContentType is not {CONTENT_TYPE}")
    for name, channel in (doc.get("channels") or {}).items():
        if "publish" in channel or "subscribe" not in channel:
            problems.append(f"{name}: not a subscribe operation (AsyncAPI 2: what we publish)")
            continue
        message = channel["subscribe"].get("message", {})
        if message.get("$ref", "").startswith("#/"):
            message = resolve(doc, message["$ref"])
        if message.get("contentType") != CONTENT_TYPE:
            problems.append(f"{name}: contentType is not {CONTENT_TYPE}")
        amqp = (message.get("bindings") or {}).get("amqp") or {}
        if amqp.get("messageType") != name:
            problems.append(f"{name}: bindings.amqp.messageType is not the routing key")
        traits = [resolve(doc, t.get("$ref", "")) for t in message.get("traits", [])]
        if not any("traceparent" in (t.get("headers") or {}).get("properties", {}) for t in traits):
            problems.append(f"{name}: no trait describes the traceparent header")
        ref = (message.get("payload") or {}).get("$ref", "")
        if not ref.startswith("./") or not (ROOT / ref[2:]).exists():
            problems.append(f"{name}: payload {ref!r} does not exist")
        for example in message.get("examples", []):
            eref = (example.get("payload") or {}).get("$ref", "")
            if eref and not (ROOT / eref[2:]).exists():
                problems.append(f"{name}: example {eref!r} does not exist")
    if not doc.get("channels"):
        problems.append("no channels")
    return problems


def self_test(doc):
    """A broken example and a broken document must each be caught."""
    schema = load(ROOT / "schemas/v2/lead-identified.json")
    example = load(ROOT / "examples/v2/lead-identified.json")
    broken = copy.deepcopy(example)
    broken["data"]["lead"]["score"] = "high"
    assert example_problems(schema, broken, "broken"), "a string score passed the schema"
    untimed = copy.deepcopy(example)
    untimed["time"] = "2026-08-20 01:30:06"
    assert example_problems(schema, untimed, "untimed"), "a time without T and zone passed"
    # platformType grows within a version: a platform connected later is accepted as text.
    changed = load(ROOT / "examples/v1/platform-changed.json")
    changed["data"]["platformType"] = "XIAOHONGSHU"
    assert not example_problems(
        load(ROOT / "schemas/v1/platform-changed.json"), changed, "new platform"
    ), "an unknown platformType was refused"
    mistyped = copy.deepcopy(doc)
    message = mistyped["components"]["messages"]["LeadUpdated"]
    message["bindings"]["amqp"]["messageType"] = "lead.updated.v2"
    assert asyncapi_problems(mistyped), "a message type other than its routing key passed"
    utc = copy.deepcopy(example)
    utc["time"] = "2026-08-20T09:30:06+08:00"
    assert example_problems(schema, utc, "offset"), "a time not in UTC passed"
    turned = copy.deepcopy(doc)
    name, channel = next(iter(turned["channels"].items()))
    channel["publish"] = channel.pop("subscribe")
    assert asyncapi_problems(turned), f"{name} as publish passed"


def main():
    doc = yaml.safe_load((ROOT / "asyncapi.yaml").read_text(encoding="utf-8"))
    problems, pairs = check_examples()
    problems += asyncapi_problems(doc)
    if "--self-test" in sys.argv[1:]:
        self_test(doc)
    if problems:
        print("proto-events/check.py:", *problems, sep="\n  ", file=sys.stderr)
        return 1
    print(f"proto-events: {pairs} examples valid against their schemas; asyncapi.yaml consistent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
