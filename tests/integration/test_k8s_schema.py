"""tests/lib/k8s_schema.py: strict offline validation against the official Kubernetes schemas."""
import copy
import json
import subprocess
import sys

import pytest

from k8s_schema import SchemaError, validate, validate_many
from repo_paths import REPO_ROOT, deps_binary_or_skip

SCHEMA_CLI = REPO_ROOT / "tests" / "lib" / "k8s_schema.py"


@pytest.fixture(scope="module")
def kubectl_job():
    """A Job exactly as kubectl writes it (creationTimestamp: null, empty resources, status {})."""
    kubectl = deps_binary_or_skip("kubectl")
    out = subprocess.run(
        [str(kubectl), "create", "job", "demo", "--image=busybox", "--dry-run=client", "-o", "json",
         "--", "echo", "hi"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout
    return json.loads(out)


@pytest.fixture
def job(kubectl_job):
    return copy.deepcopy(kubectl_job)


def container(job):
    return job["spec"]["template"]["spec"]["containers"][0]


def webhook_configuration(**webhook_overrides):
    webhook = {
        "name": "jobs.batch-offload.io",
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        "clientConfig": {"service": {"name": "svc", "namespace": "ns", "path": "/mutate", "port": 443},
                         "caBundle": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="},
        "rules": [{"apiGroups": ["batch"], "apiVersions": ["v1"], "resources": ["jobs"],
                   "operations": ["CREATE"], "scope": "Namespaced"}],
        "matchConditions": [{"name": "annotated",
                             "expression": "object.metadata.annotations['batch-offload.io/enabled'] == 'true'"}],
        "failurePolicy": "Fail",
        "timeoutSeconds": 5,
    }
    webhook.update(webhook_overrides)
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "batch-offload"}, "webhooks": [webhook]}


@pytest.mark.parametrize("release", ["1.30", "1.35"])
def test_kubectl_job_is_valid(job, release):
    assert validate(job, release=release) == []


@pytest.mark.parametrize("where, path", [
    ([], "foo"),
    (["metadata"], "metadata.foo"),
    (["spec"], "spec.foo"),
    (["spec", "template", "metadata"], "spec.template.metadata.foo"),
    (["spec", "template", "spec"], "spec.template.spec.foo"),
    (["spec", "template", "spec", "containers", 0], "spec.template.spec.containers[0].foo"),
])
def test_unknown_field_is_reported_with_its_path(job, where, path):
    target = job
    for step in where:
        target = target[step]
    target["foo"] = "bar"
    assert validate(job) == [f"{path}: unknown field"]


def test_unknown_field_deep_inside_a_referenced_type(job):
    container(job)["securityContext"] = {"capabilities": {"drop": ["ALL"], "dorp": ["ALL"]}}
    assert validate(job) == ["spec.template.spec.containers[0].securityContext.capabilities.dorp: unknown field"]


def test_maps_accept_any_key_but_check_values(job):
    job["metadata"]["annotations"] = {"batch-offload.io/enabled": "true", "count": 3}
    assert validate(job) == ['metadata.annotations.count: must be string, got integer 3']


@pytest.mark.parametrize("field, value, error", [
    ("completions", "3", 'spec.completions: must be integer, got string "3"'),
    ("completions", 3.0, "spec.completions: must be integer, got number 3.0"),
    ("suspend", "false", 'spec.suspend: must be boolean, got string "false"'),
    ("backoffLimit", 2**31, "spec.backoffLimit: 2147483648 is out of the int32 range"),
    ("activeDeadlineSeconds", 2**63, "spec.activeDeadlineSeconds: 9223372036854775808 is out of the int64 range"),
])
def test_wrong_types_and_ranges(job, field, value, error):
    job["spec"][field] = value
    assert validate(job) == [error]


def test_wrong_type_of_list(job):
    container(job)["command"] = "echo hi"
    assert validate(job) == ['spec.template.spec.containers[0].command: must be array, got string "echo hi"']


def test_missing_required_fields(job):
    del container(job)["name"]
    assert validate(job) == ["spec.template.spec.containers[0].name: required field missing"]
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r"},
            "rules": [{"apiGroups": [""], "resources": ["secrets"]}]}
    assert validate(role) == ["rules[0].verbs: required field missing"]


def test_defaults_do_not_make_fields_required():
    # Container.name, EnvVar.value, labels' values... carry "default" in the documents.
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}
    assert validate(secret) == []


@pytest.mark.parametrize("target_port", [8443, "https"])
def test_int_or_string_accepts_both(target_port):
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
               "spec": {"ports": [{"port": 443, "targetPort": target_port}]}}
    assert validate(service) == []


@pytest.mark.parametrize("target_port, shown", [(8443.5, "number 8443.5"), (True, "boolean true"),
                                                ([8443], "array [8443]")])
def test_int_or_string_rejects_others(target_port, shown):
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
               "spec": {"ports": [{"port": 443, "targetPort": target_port}]}}
    assert validate(service) == [f"spec.ports[0].targetPort: must be integer or string, got {shown}"]


@pytest.mark.parametrize("quantity", ["50m", "64Mi", "1", "1.5", "0.5Gi", ".5", "2.", "1e3", "1E-3", "+2k",
                                      "-1", "1E", "500n", "3u", 2, 0.25])
def test_quantity_accepts_the_kubernetes_grammar(job, quantity):
    container(job)["resources"] = {"requests": {"cpu": quantity}, "limits": {"memory": quantity}}
    assert validate(job) == []


@pytest.mark.parametrize("quantity", ["", "64MB", "1K", "1mi", "1e", "1.5.5", "one", "Mi", "1Ki2", True])
def test_quantity_rejects_others(job, quantity):
    container(job)["resources"] = {"limits": {"memory": quantity}}
    errors = validate(job)
    assert len(errors) == 1
    assert errors[0].startswith("spec.template.spec.containers[0].resources.limits.memory: ")
    assert "is not a quantity" in errors[0]


def test_times_accept_rfc3339_and_null(job):
    job["metadata"]["creationTimestamp"] = "2024-05-01T12:00:00Z"
    job["status"] = {"startTime": "2024-05-01T12:00:01.123456+02:00", "completionTime": None}
    assert validate(job) == []
    job["status"]["startTime"] = "2024-05-01 12:00:01"
    assert validate(job) == ['status.startTime: "2024-05-01 12:00:01" is not a valid date-time']


def test_mutating_webhook_configuration_with_match_conditions_is_valid_in_1_30():
    assert validate(webhook_configuration(), release="1.30") == []


def test_mutating_webhook_configuration_checks_enum_free_strings_and_base64():
    configuration = webhook_configuration(matchConditions=[{"name": "no-expression"}])
    configuration["webhooks"][0]["clientConfig"]["caBundle"] = "not base64!"
    assert validate(configuration) == [
        'webhooks[0].clientConfig.caBundle: "not base64!" is not a valid byte',
        "webhooks[0].matchConditions[0].expression: required field missing",
    ]


def test_cert_manager_objects_use_the_crd_schemas():
    certificate = {
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "serving"},
        "spec": {"secretName": "tls", "dnsNames": ["svc.ns.svc"], "usages": ["server auth"],
                 "issuerRef": {"name": "ca", "kind": "Issuer"}, "privateKey": {"algorithm": "ECDSA"}},
    }
    assert validate(certificate) == []
    certificate["spec"]["usages"] = ["server-auth"]
    certificate["spec"]["isCa"] = True
    certificate["metadata"]["label"] = {}
    errors = validate(certificate)
    assert errors[0] == "metadata.label: unknown field"  # metadata is ObjectMeta, strict too
    assert errors[1] == "spec.isCa: unknown field"
    assert errors[2].startswith('spec.usages[0]: "server-auth" is not one of ["signing", ')


def test_kinds_without_a_schema():
    monitor = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": {"name": "m"}}
    assert validate(monitor) == ["(object): no schema for monitoring.coreos.com/v1 ServiceMonitor in release 1.30 "
                                 "(pass allow_unknown_kinds to skip kinds without a schema)"]
    assert validate(monitor, allow_unknown_kinds=True) == []
    assert validate({"apiVersion": "batch/v2", "kind": "Job"}) != []
    assert validate({"apiVersion": "batch/v1", "kind": "Jobs"}) != []
    assert validate({"kind": "Job"}) == ["(object): apiVersion and kind are required to pick a schema"]
    # 1.35 ships only batch/v1.
    assert validate(webhook_configuration(), release="1.35")[0].startswith("(object): no schema for")


def test_unknown_release_is_a_schema_error(job):
    with pytest.raises(SchemaError, match="1.99"):
        validate(job, release="1.99")


def test_validate_many_labels_each_error_and_expands_lists(job):
    bad = copy.deepcopy(job)
    bad["metadata"]["name"] = "bad"
    bad["spec"]["foo"] = 1
    listed = {"apiVersion": "v1", "kind": "List", "items": [job, bad]}
    assert validate_many([listed, None], release="1.30") == ["Job/bad: spec.foo: unknown field"]


def test_cli(job, tmp_path):
    good, bad = tmp_path / "good.json", tmp_path / "bad.yaml"
    good.write_text(json.dumps(job))
    bad.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: 1}\n---\n"
                   "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {prots: []}\n")
    run = [sys.executable, str(SCHEMA_CLI), "--release", "1.30"]
    ok = subprocess.run(run + [str(good)], capture_output=True, text=True)
    assert (ok.returncode, ok.stdout) == (0, "")
    failed = subprocess.run(run + [str(good), str(bad)], capture_output=True, text=True)
    assert failed.returncode == 1
    assert failed.stdout.splitlines() == [f"{bad}: ConfigMap/c: data.a: must be string, got integer 1",
                                          f"{bad}: Service/s: spec.prots: unknown field"]


def test_conversion_of_openapi_keywords_the_kubernetes_documents_rarely_use():
    from jsonschema import Draft7Validator
    from k8s_openapi import convert

    def errors(schema, instance):
        return list(Draft7Validator(convert(schema)).iter_errors(instance))

    assert errors({"type": "string", "nullable": True}, None) == []
    assert errors({"type": "string"}, None) != []
    assert errors({"type": "object", "properties": {"a": {"type": "string"}},
                   "x-kubernetes-preserve-unknown-fields": True}, {"b": 1}) == []
    assert errors({"type": "object", "properties": {"a": {"type": "string"}}}, {"b": 1}) != []
    assert errors({"type": "integer", "minimum": 0, "exclusiveMinimum": True}, 0) != []  # OpenAPI 3.0 boolean form
    assert errors({"type": "integer", "minimum": 0, "exclusiveMinimum": True}, 1) == []
    assert errors({"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}],
                   "pattern": "^[0-9]+%$"}, "50%") == []
    assert errors({"x-kubernetes-int-or-string": True, "pattern": "^[0-9]+%$"}, "half") != []
    assert errors({"type": "string", "default": "x"}, "") == []  # defaults are not constraints
