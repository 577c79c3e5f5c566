# Request bodies checked against the official spec (third_party/azure-batch/BatchService.2025-06-01.21.0.json).
# Each swagger 2.0 definition becomes a JSON Schema (draft 4, which swagger's schema objects follow):
# $refs stay local ("#/definitions/X"), every object that lists properties gets
# additionalProperties: false, and formats the service enforces are checked (int32, int64, date-time,
# duration, uri). One compiled validator per body definition, built once at start-up.
#
# How violations are reported (the service parses the body with an OData reader first, then checks
# values; docs/azure-facts.md section 4; InvalidRequestBody for an undeclared property, with the Reason wording
# used here, in Azure/azure-batch-software-entitlement src/Microsoft.Azure.Batch.SoftwareEntitlement.Server/
# readme.md, and for a type mismatch in Azure/azure-powershell#12147):
#   not JSON, a JSON type that does not fit, an unknown property -> 400 InvalidRequestBody + Reason
#   a required property missing (null counts as missing)          -> 400 MissingRequiredProperty
#   a value outside an enum, range or format                      -> 400 InvalidPropertyValue
import copy
import json
import re
from datetime import datetime
from urllib.parse import urlsplit

import jsonschema

from errors import BatchError, invalid_property
from wire_format import parse_duration

_INT32 = (-2 ** 31, 2 ** 31 - 1)
_INT64 = (-2 ** 63, 2 ** 63 - 1)
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_EDM_TYPES = {"string": "Edm.String", "integer": "Edm.Int32", "boolean": "Edm.Boolean",
              "number": "Edm.Double", "array": "Collection", "object": "complex type"}
# Checked first: the OData reader fails on these before any value is looked at.
_REPORT_ORDER = {"type": 0, "additionalProperties": 0, "required": 1}


def _format_checker():
    checker = jsonschema.FormatChecker(formats=())

    def in_range(bounds):
        return lambda value: not isinstance(value, int) or bounds[0] <= value <= bounds[1]

    def int64_string(value):
        return not isinstance(value, str) or (re.fullmatch(r"-?\d+", value) is not None
                                              and _INT64[0] <= int(value) <= _INT64[1])

    def date_time(value):
        if not isinstance(value, str):
            return True
        if not _RFC3339.match(value):
            return False
        datetime.fromisoformat(value[:19])
        return True

    def duration(value):
        return not isinstance(value, str) or parse_duration(value) is not None

    def uri(value):
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        return bool(parts.scheme and parts.netloc)

    checker.checks("int32")(in_range(_INT32))
    checker.checks("int64")(int64_string)
    checker.checks("date-time", raises=ValueError)(date_time)
    checker.checks("duration")(duration)
    checker.checks("uri")(uri)
    return checker


def _close_objects(definitions):
    """Refuse unknown properties everywhere: additionalProperties false on objects with properties."""
    closed = copy.deepcopy(definitions)
    # The spec types registryServer as a uri, but its own default ("docker.io") and the service's
    # documented examples (learn.microsoft.com batch-docker-container-workloads:
    # registry_server="myRegistry.azurecr.io") are host names, which the service accepts.
    closed["ContainerRegistryReference"]["properties"]["registryServer"].pop("format", None)
    for name, definition in closed.items():
        definition["title"] = name
    stack = list(closed.values())
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return closed


def strip_nulls(value):
    """JSON null means "not given" to the OData reader; drop such members before validating."""
    if isinstance(value, dict):
        return {key: strip_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [strip_nulls(item) for item in value]
    return value


def _path_text(path):
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _to_batch_error(error):
    path = list(error.absolute_path)
    where = _path_text(path) or "the request body"
    leaf = next((part for part in reversed(path) if isinstance(part, str)), "")
    if error.validator == "additionalProperties":
        unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))[0]
        return BatchError(400, "InvalidRequestBody", [(
            "Reason", f"The property '{unknown}' does not exist on type '{error.schema.get('title')}' (at {where})."
                      f" Make sure to only use property values that are defined by the type.")])
    if error.validator == "type":
        expected = _EDM_TYPES.get(error.validator_value, error.validator_value)
        return BatchError(400, "InvalidRequestBody", [(
            "Reason", f"Cannot convert the value of '{where}' to the expected type '{expected}'.")])
    if error.validator == "required":
        missing = next(name for name in error.validator_value if name not in error.instance)
        return BatchError(400, "MissingRequiredProperty", [
            ("PropertyName", missing),
            ("Reason", f"The property '{missing}' is required in {where}.")])
    if error.validator == "enum":
        allowed = ", ".join(error.validator_value)
        return invalid_property(leaf, error.instance, f"{where} must be one of: {allowed}.")
    return invalid_property(leaf, error.instance, f"{where} is not a valid {error.validator_value}.")


class SpecValidator:
    def __init__(self, spec_path, definition_names):
        with open(spec_path, encoding="utf-8") as spec_file:
            definitions = _close_objects(json.load(spec_file)["definitions"])
        checker = _format_checker()
        self.validators = {
            name: jsonschema.Draft4Validator({"$ref": f"#/definitions/{name}", "definitions": definitions},
                                             format_checker=checker)
            for name in definition_names}

    def parse(self, definition_name, body):
        """The decoded body (nulls removed) if it matches the definition, else raises BatchError."""
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as problem:
            raise BatchError(400, "InvalidRequestBody", [("Reason", f"The body is not JSON: {problem}")])
        return self.check(definition_name, strip_nulls(document))

    def check(self, definition_name, document):
        """document if it matches the definition, else raises BatchError."""
        errors = list(self.validators[definition_name].iter_errors(document))
        if errors:
            first = min(errors, key=lambda e: (_REPORT_ORDER.get(e.validator, 2), list(map(str, e.absolute_path))))
            raise _to_batch_error(first)
        return document
