"""The Kubernetes schemas of one release, as JSON Schema (draft 7) definitions, ready for jsonschema.

Sources, read once per release and cached:
  third_party/kubernetes/openapi/<release>/*.json  official OpenAPI v3 documents (components.schemas)
  third_party/kubernetes/crds/*.yaml               CRDs (cert-manager), their openAPIV3Schema

The conversion makes the schemas as strict as the API server with `--validate=strict`:
  - an object schema with `properties` rejects unknown fields, unless it is a map
    (`additionalProperties`) or says `x-kubernetes-preserve-unknown-fields: true`;
  - `allOf: [{$ref}]` wrappers (how the documents attach descriptions and defaults to a
    reference) collapse to the reference; `default`s are dropped, so they never make a field
    look required or valid;
  - IntOrString, Quantity and Time get the forms their Go JSON decoders really accept.
"""
import functools
import json
from dataclasses import dataclass

import k8s_yaml
from repo_paths import THIRD_PARTY_DIR

OPENAPI_DIR = THIRD_PARTY_DIR / "kubernetes" / "openapi"
CRD_DIR = THIRD_PARTY_DIR / "kubernetes" / "crds"

INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
TIMES = ("io.k8s.apimachinery.pkg.apis.meta.v1.Time", "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime")
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

# The custom keyword k8s_schema.py implements for resource.Quantity.
QUANTITY_KEYWORD = "x-k8s-quantity"

# Keywords whose value is copied as is; subschema keywords are converted; everything else
# (description, default, x-kubernetes-* list and patch hints) is documentation for validation.
VALUE_KEYWORDS = {
    "type", "enum", "format", "pattern", "required",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
    "minLength", "maxLength", "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties",
}


class SchemaError(Exception):
    """The schemas themselves cannot be loaded: missing files, unknown release."""


@dataclass(frozen=True)
class ReleaseSchemas:
    release: str
    definitions: dict  # definition name -> JSON Schema draft 7
    kinds: dict  # (group, version, kind) -> definition name; group "" is the core group


def definition_ref(name: str) -> dict:
    return {"$ref": "#/definitions/" + name}


@functools.lru_cache(maxsize=None)
def load_release(release: str) -> ReleaseSchemas:
    documents = sorted((OPENAPI_DIR / release).glob("*.json"))
    if not documents:
        known = sorted(p.name for p in OPENAPI_DIR.iterdir() if p.is_dir()) if OPENAPI_DIR.is_dir() else []
        raise SchemaError(f"no OpenAPI documents for release {release!r} in {OPENAPI_DIR / release} "
                          f"(available: {', '.join(known) or 'none'})")
    definitions, kinds = {}, {}
    for document in documents:
        # Every document repeats the shared types (ObjectMeta, PodSpec...) identically.
        for name, node in json.loads(document.read_text())["components"]["schemas"].items():
            definitions.setdefault(name, convert_definition(name, node))
            for gvk in node.get("x-kubernetes-group-version-kind", []):
                kinds.setdefault((gvk["group"], gvk["version"], gvk["kind"]), name)
    for gvk, name, schema in crd_definitions():
        definitions[name] = schema
        kinds[gvk] = name
    return ReleaseSchemas(release, definitions, kinds)


def convert_definition(name: str, node: dict) -> dict:
    """One components.schemas entry; the few types with custom Go JSON decoding get their real form."""
    if name == INT_OR_STRING:
        return {"type": ["integer", "string"]}
    if name == QUANTITY:
        return {QUANTITY_KEYWORD: True}
    if name in TIMES:
        # Go's Time.UnmarshalJSON reads null as the zero time: kubectl writes `creationTimestamp: null`.
        return {"type": ["string", "null"], "format": "date-time"}
    return convert(node)


def crd_definitions():
    """(group, version, kind), definition name and schema of every served version of every CRD."""
    for path in sorted(CRD_DIR.glob("*.yaml")):
        for crd in k8s_yaml.load_documents(path.read_text()):
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if not version.get("served", True):
                    continue
                schema = convert(version["schema"]["openAPIV3Schema"])
                # A CRD leaves metadata a bare object; the API server still decodes it as ObjectMeta.
                schema["properties"]["metadata"] = definition_ref(OBJECT_META)
                yield (group, version["name"], kind), f"{group}.{version['name']}.{kind}", schema


def convert(node: dict) -> dict:
    """An OpenAPI v3 (Kubernetes dialect) schema node as a strict JSON Schema draft 7 node."""
    if "$ref" in node:  # siblings of a $ref are only documentation in these documents
        return definition_ref(node["$ref"].rsplit("/", 1)[-1])
    if node.get("x-kubernetes-int-or-string") or node.get("format") == "int-or-string":
        out = {key: value for key, value in node.items() if key in ("pattern", "maxLength", "minLength")}
        out["type"] = ["integer", "string"]
        return allow_null(out) if node.get("nullable") else out

    out = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: convert(sub) for name, sub in value.items()}
        elif key in ("items", "not"):
            out[key] = convert(value)
        elif key == "additionalProperties":
            out[key] = value if isinstance(value, bool) else convert(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [convert(sub) for sub in value]
        elif key in VALUE_KEYWORDS:
            out[key] = value
    fix_exclusive_bounds(out)

    if "properties" in node and "additionalProperties" not in node \
            and not node.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    if list(out) == ["allOf"] and len(out["allOf"]) == 1:
        out = out["allOf"][0]
    return allow_null(out) if node.get("nullable") else out


def fix_exclusive_bounds(out: dict) -> None:
    """OpenAPI 3.0 (draft 4) writes exclusiveMinimum/Maximum as booleans; draft 7 as the bound."""
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(exclusive), bool):
            if out.pop(exclusive) and bound in out:
                out[exclusive] = out.pop(bound)


def allow_null(out: dict) -> dict:
    if "type" in out and "enum" not in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        return {**out, "type": types + ["null"]}
    return {"anyOf": [{"type": "null"}, out]}
