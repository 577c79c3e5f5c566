#!/usr/bin/python3
"""Validate Kubernetes objects offline against the official schemas, as strictly as the API server.

    from k8s_schema import validate, SchemaError
    errors = validate(obj, release="1.30")   # [] when valid, else "path: reason" strings

Reports what `kubectl apply --validate=strict` would refuse: unknown fields at any depth, wrong
types, missing required fields, enums, int32/int64 ranges, malformed quantities, date-times and
base64. The schema is picked by apiVersion and kind from the release's OpenAPI documents and the
cert-manager CRDs (see k8s_openapi.py). A kind with no schema there (e.g. a ServiceMonitor) is
an error unless the caller passes allow_unknown_kinds=True.

Not checked, because the API server does it in Go code or CEL rather than in the schema:
cross-field rules, x-kubernetes-validations, name formats, duplicate keys in list-maps.

CLI: /usr/bin/python3 tests/lib/k8s_schema.py [--release 1.30] [--allow-unknown-kinds] FILE|- ...
"""
import argparse
import base64
import binascii
import datetime
import functools
import json
import re
import sys

import jsonschema
from jsonschema import Draft7Validator, ValidationError

import k8s_yaml
from k8s_openapi import QUANTITY_KEYWORD, SchemaError, definition_ref, load_release

__all__ = ["validate", "validate_many", "SchemaError"]

DEFAULT_RELEASE = "1.30"

# The grammar documented on resource.Quantity (k8s.io/apimachinery/pkg/api/resource/quantity.go):
#   <signedNumber><suffix>, suffix one of Ki..Ei, n u m "" k M G T P E, or e/E<signed integer>.
# (Its hand-written scanner also lets a few degenerate strings through, such as "Mi" or "-";
# nobody writes those on purpose, so they are reported here.)
QUANTITY_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?")

# RFC 3339 as Go's time.Parse(time.RFC3339, ...) reads it; fractional seconds are optional.
DATE_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")

FORMAT_CHECKER = jsonschema.FormatChecker(formats=())


@FORMAT_CHECKER.checks("int32")
def is_int32(value) -> bool:
    return not isinstance(value, int) or -2**31 <= value < 2**31


@FORMAT_CHECKER.checks("int64")
def is_int64(value) -> bool:
    return not isinstance(value, int) or -2**63 <= value < 2**63


@FORMAT_CHECKER.checks("date-time")
def is_date_time(value) -> bool:
    if not isinstance(value, str):
        return True
    if not DATE_TIME_RE.fullmatch(value):
        return False
    try:
        datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:  # month 13, hour 25...
        return False
    return True


@FORMAT_CHECKER.checks("byte")
def is_base64(value) -> bool:
    """Go decodes []byte from standard, padded base64 (line breaks ignored)."""
    if not isinstance(value, str):
        return True
    try:
        base64.b64decode(value.replace("\r", "").replace("\n", ""), validate=True)
    except binascii.Error:
        return False
    return True


def is_quantity(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):  # a JSON number is parsed with the same grammar: always fits
        return True
    # Quantity.UnmarshalJSON trims surrounding white space before parsing.
    return isinstance(value, str) and QUANTITY_RE.fullmatch(value.strip()) is not None


def unknown_fields(validator, additional, instance, schema):
    """additionalProperties: false reports each unknown field at its own path."""
    if additional is not False:
        yield from Draft7Validator.VALIDATORS["additionalProperties"](validator, additional, instance, schema)
        return
    if validator.is_type(instance, "object"):
        for field in instance:
            if field not in schema.get("properties", {}):
                yield ValidationError("unknown field", path=[field])


def required_fields(validator, required, instance, schema):
    """required reports each missing field at the path it should have had."""
    if validator.is_type(instance, "object"):
        for field in required:
            if field not in instance:
                yield ValidationError("required field missing", path=[field])


def quantity(validator, enabled, instance, schema):
    if enabled and not is_quantity(instance):
        yield ValidationError(f"{show(instance)} is not a quantity "
                              "(a number, or a string such as \"250m\", \"64Mi\", \"1.5\", \"2e3\")")


def is_strict_integer(checker, instance) -> bool:
    """Go will not decode 1.0 (or true) into an int field; draft 7 would call 1.0 an integer."""
    return isinstance(instance, int) and not isinstance(instance, bool)


StrictValidator = jsonschema.validators.extend(
    Draft7Validator,
    validators={"additionalProperties": unknown_fields, "required": required_fields, QUANTITY_KEYWORD: quantity},
    type_checker=Draft7Validator.TYPE_CHECKER.redefine("integer", is_strict_integer),
)
OWN_MESSAGES = {"additionalProperties", "required", QUANTITY_KEYWORD}


@functools.lru_cache(maxsize=None)
def validator_for(release: str, definition: str):
    schemas = load_release(release)
    return StrictValidator({**definition_ref(definition), "definitions": schemas.definitions},
                           format_checker=FORMAT_CHECKER)


def validate(obj, release: str = DEFAULT_RELEASE, allow_unknown_kinds: bool = False) -> list:
    """Human-readable errors ("spec.template.spec.containers[0].foo: unknown field"); [] when valid.

    Raises SchemaError only when the schemas themselves cannot be loaded."""
    schemas = load_release(release)
    if not isinstance(obj, dict):
        return [f"(object): must be an object, got {json_type(obj)}"]
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not (isinstance(api_version, str) and api_version and isinstance(kind, str) and kind):
        return ["(object): apiVersion and kind are required to pick a schema"]
    group, _, version = api_version.rpartition("/")
    definition = schemas.kinds.get((group, version, kind))
    if definition is None:
        if allow_unknown_kinds:
            return []
        return [f"(object): no schema for {api_version} {kind} in release {release} "
                "(pass allow_unknown_kinds to skip kinds without a schema)"]
    errors = validator_for(release, definition).iter_errors(obj)
    return sorted({f"{json_path(error.absolute_path)}: {message(error)}" for error in errors})


def validate_many(objs, release: str = DEFAULT_RELEASE, allow_unknown_kinds: bool = False) -> list:
    """validate() over several objects (a `kind: List` counts as its items), each error prefixed
    with the object it belongs to: "Deployment/web: spec.replicas: ..."."""
    errors = []
    for obj in flatten_lists(objs):
        errors += [f"{object_label(obj)}: {error}" for error in validate(obj, release, allow_unknown_kinds)]
    return errors


def flatten_lists(objs):
    for obj in objs:
        if isinstance(obj, dict) and obj.get("kind") == "List" and isinstance(obj.get("items"), list):
            yield from flatten_lists(obj["items"])
        elif obj is not None:
            yield obj


def object_label(obj) -> str:
    if not isinstance(obj, dict):
        return "(not an object)"
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name = metadata.get("name") or metadata.get("generateName") or "(unnamed)"
    return f"{obj.get('kind', '(no kind)')}/{name}"


PLAIN_KEY_RE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*")


def json_path(path) -> str:
    """spec.containers[0].name; keys that are not plain words are quoted: annotations["a.io/b"]."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif PLAIN_KEY_RE.fullmatch(part):
            text += ("." if text else "") + part
        else:
            text += f"[{json.dumps(part)}]"
    return text or "(object)"


def message(error: ValidationError) -> str:
    keyword, expected = error.validator, error.validator_value
    if keyword in OWN_MESSAGES:
        return error.message
    if keyword == "type":
        wanted = " or ".join(expected) if isinstance(expected, list) else expected
        return f"must be {wanted}, got {describe(error.instance)}"
    if keyword == "format":
        if expected in ("int32", "int64"):
            return f"{error.instance} is out of the {expected} range"
        return f"{show(error.instance)} is not a valid {expected}"
    if keyword == "enum":
        return f"{show(error.instance)} is not one of {json.dumps(expected)}"
    if keyword == "pattern":
        return f"{show(error.instance)} does not match {expected}"
    return error.message


def json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def describe(value) -> str:
    """`string "abc"`, `integer 3`, `null`: the type, then the value unless the type says it all."""
    return "null" if value is None else f"{json_type(value)} {show(value)}"


def show(value) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Validate Kubernetes YAML/JSON files strictly "
                                     "against the official OpenAPI schemas (no cluster needed).")
    parser.add_argument("--release", default=DEFAULT_RELEASE, help="Kubernetes release (default %(default)s)")
    parser.add_argument("--allow-unknown-kinds", action="store_true",
                        help="skip objects whose kind has no schema instead of failing")
    parser.add_argument("files", nargs="+", help="YAML or JSON files, multi-document allowed; - for stdin")
    args = parser.parse_args(argv)

    failed = False
    try:
        for name in args.files:
            text = sys.stdin.read() if name == "-" else open(name, encoding="utf-8").read()
            for error in validate_many(k8s_yaml.load_documents(text), args.release, args.allow_unknown_kinds):
                print(f"{name}: {error}")
                failed = True
    except (OSError, SchemaError) as problem:
        print(f"k8s_schema: {problem}", file=sys.stderr)
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
