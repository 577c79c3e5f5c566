"""charts/batch-offload/values.schema.json: bad values stop `helm template` with a clear reason."""
import json
import re

import pytest

from helm_chart import CHART_DIR, find, render, render_error
from k8s_yaml import load_documents
from repo_paths import REPO_ROOT, deps_binary_or_skip

BAD_VALUES = {
    "timeout above 5": ({"webhook": {"timeoutSeconds": 10}}, "webhook.timeoutSeconds: Must be less than or equal to 5"),
    "timeout 0": ({"webhook": {"timeoutSeconds": 0}}, "webhook.timeoutSeconds: Must be greater than or equal to 1"),
    "no replicas": ({"webhook": {"replicaCount": 0}}, "webhook.replicaCount: Must be greater than or equal to 1"),
    "bad default pool": ({"offload": {"defaultPool": "pool/1"}}, "offload.defaultPool: Does not match pattern"),
    "bad allowed pool": ({"offload": {"allowedPools": ["p" * 65]}}, "offload.allowedPools.0: Does not match pattern"),
    "unknown top-level key": ({"replicas": 3}, "(root): Additional property replicas is not allowed"),
    "unknown nested key": ({"webhook": {"image": {"registry": "x"}}},
                           "webhook.image: Additional property registry is not allowed"),
    "bad certificate mode": ({"certificates": {"mode": "selfSigned"}}, "certificates.mode: certificates.mode must be one"),
    "bad failure policy": ({"webhook": {"failurePolicy": "fail"}}, "webhook.failurePolicy: webhook.failurePolicy must be"),
    "bad selector mode": ({"webhook": {"selectorMode": "labels"}}, "webhook.selectorMode: webhook.selectorMode must be"),
    "upper-case image path": ({"webhook": {"image": {"repository": "ghcr.io/Team/webhook"}}},
                              "webhook.image.repository: Does not match pattern"),
    "image with a tag in the repository": ({"offloader": {"image": {"repository": "ghcr.io/team/offloader:1.0"}}},
                                           "offloader.image.repository: Does not match pattern"),
    "short digest": ({"webhook": {"image": {"digest": "sha256:abc"}}}, "webhook.image.digest: Does not match pattern"),
    "bad namespace": ({"offload": {"namespaces": ["Team_A"]}}, "offload.namespaces.0: Does not match pattern"),
    "bad secret name": ({"credentials": {"secretName": "Azure Creds"}}, "credentials.secretName: Does not match pattern"),
    "unknown credential key": ({"credentials": {"values": {"BATCHKEY": "x"}}},
                               "credentials.values: Additional property BATCHKEY is not allowed"),
    "bad client id": ({"credentials": {"workloadIdentity": {"clientId": "not-a-guid"}}},
                      "credentials.workloadIdentity.clientId: Does not match pattern"),
    "root user": ({"webhook": {"runAsUser": 0}}, "webhook.runAsUser: Must be greater than or equal to 1"),
    "bad quantity": ({"webhook": {"resources": {"limits": {"memory": "64MB"}}}},
                     "webhook.resources.limits.memory: Does not match pattern"),
    "bad duration": ({"certificates": {"certManager": {"duration": "90d"}}},
                     "certificates.certManager.duration: Does not match pattern"),
    "bad caBundle": ({"certificates": {"provided": {"caBundle": "not base64!"}}},
                     "certificates.provided.caBundle: Does not match pattern"),
    "bad storage container": ({"offload": {"defaultStorageContainer": "Jobs--data"}},
                              "offload.defaultStorageContainer: Does not match pattern"),
    "too many completions": ({"offload": {"maxCompletions": 100001}},
                             "offload.maxCompletions: Must be less than or equal to 100000"),
    "string for integer": ({"webhook": {"replicaCount": "2"}}, "webhook.replicaCount: Invalid type"),
    "bad secretEnv": ({"offload": {"secretEnv": "allow"}}, "offload.secretEnv: offload.secretEnv must be one of"),
    "bad GPU pool": ({"offload": {"gpu": {"pool": "gpu pool"}}}, "offload.gpu.pool: Does not match pattern"),
    "bad GPU VM size": ({"offload": {"gpu": {"vmSize": "NC 6"}}}, "offload.gpu.vmSize: Does not match pattern"),
    "bad GPU image": ({"offload": {"gpu": {"image": "ubuntu-hpc"}}}, "offload.gpu.image: Does not match pattern"),
    "unknown GPU key": ({"offload": {"gpu": {"count": 2}}}, "offload.gpu: Additional property count is not allowed"),
    "bad toleration field": ({"webhook": {"tolerations": [{"key": "a", "effects": "NoSchedule"}]}},
                             "webhook.tolerations.0: Additional property effects is not allowed"),
    "bad label key": ({"webhook": {"podLabels": {"bad key": "x"}}}, "webhook.podLabels: Property name of"),
    "bad log level": ({"webhook": {"logLevel": "trace"}}, "webhook.logLevel: webhook.logLevel must be one"),
    "negative shutdown delay": ({"webhook": {"shutdownDelaySeconds": -1}},
                                "webhook.shutdownDelaySeconds: Must be greater than or equal to 0"),
    "shutdown delay above the webhook's limit": ({"webhook": {"shutdownDelaySeconds": 601,
                                                              "terminationGracePeriodSeconds": 3600}},
                                                 "webhook.shutdownDelaySeconds: Must be less than or equal to 600"),
    "kubernetesAccess not a boolean": ({"offloader": {"kubernetesAccess": "true"}},
                                       "offloader.kubernetesAccess: Invalid type"),
    "bad offloader ServiceAccount": ({"offloader": {"serviceAccountName": "Offloader_SA"}},
                                     "offloader.serviceAccountName: Does not match pattern"),
    "gc retention 0": ({"gc": {"retentionHours": 0}}, "gc.retentionHours: Must be greater than or equal to 1"),
    "gc retention over ten years": ({"gc": {"retentionHours": 87601}},
                                    "gc.retentionHours: Must be less than or equal to 87600"),
    "gc retention a string": ({"gc": {"retentionHours": "24"}}, "gc.retentionHours: Invalid type"),
    "gc retention a fraction": ({"gc": {"retentionHours": 1.5}}, "gc.retentionHours: Invalid type"),
    "gc empty schedule": ({"gc": {"schedule": ""}}, "gc.schedule: String length must be greater than or equal to 1"),
    "gc schedule of four fields": ({"gc": {"schedule": "0 * * *"}}, "gc.schedule: Does not match pattern"),
    "gc schedule not a string": ({"gc": {"schedule": 17}}, "gc.schedule: Invalid type"),
    "gc enabled not a boolean": ({"gc": {"enabled": "false"}}, "gc.enabled: Invalid type"),
    "gc dryRun not a boolean": ({"gc": {"dryRun": "yes"}}, "gc.dryRun: Invalid type"),
    "gc deadline too short": ({"gc": {"activeDeadlineSeconds": 10}},
                              "gc.activeDeadlineSeconds: Must be greater than or equal to 60"),
    "gc bad Secret name": ({"gc": {"credentialsSecret": "Batch Creds"}}, "gc.credentialsSecret: Does not match pattern"),
    "gc unknown key": ({"gc": {"retention": 24}}, "gc: Additional property retention is not allowed"),
    "gc bad quantity": ({"gc": {"resources": {"limits": {"memory": "1GB"}}}},
                        "gc.resources.limits.memory: Does not match pattern"),
}


@pytest.fixture(autouse=True)
def helm():
    return deps_binary_or_skip("helm")


@pytest.mark.parametrize("values, message", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_schema_refuses(values, message):
    error = render_error(values)
    assert "values don't meet the specifications of the schema" in error
    assert message in error


@pytest.mark.parametrize("values", [
    {"webhook": {"timeoutSeconds": 1, "replicaCount": 1}},
    {"offload": {"defaultPool": "Pool_01-a", "allowedPools": ["a", "B-2"], "defaultStorageContainer": "abc"}},
    {"webhook": {"image": {"repository": "localhost:5000/offload-webhook", "tag": "v1.2.3-rc.1"}}},
    {"webhook": {"podDisruptionBudget": {"maxUnavailable": "25%"}}},
    {"offloader": {"kubernetesAccess": False, "serviceAccountName": "team.offloader-1"}},
    {"gc": {"retentionHours": 1, "schedule": "@hourly"}},
    {"gc": {"retentionHours": 87600, "schedule": "*/5  *  * * 1-5", "activeDeadlineSeconds": 60}},
    {"gc": {"schedule": "@every 2h", "credentialsSecret": "team.gc-batch", "dryRun": True}},
])
def test_schema_accepts_edge_values(values):
    assert render(values)


def test_schema_closes_every_object():
    """additionalProperties false at every level, except the documented pass-through objects."""
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    open_objects = []

    def walk(node, path):
        if not isinstance(node, dict):
            return
        if node.get("type") == "object" and node.get("additionalProperties") is not False:
            open_objects.append(path)
        for key, child in node.get("properties", {}).items():
            walk(child, f"{path}.{key}" if path else key)
        for key, child in node.get("definitions", {}).items():
            walk(child, f"#{key}")
        walk(node.get("items"), f"{path}[]")

    walk(schema, "")
    # Maps (string values checked) and Kubernetes objects passed through for the API server to check.
    assert sorted(open_objects) == sorted([
        "#annotations", "#labels",
        "webhook.affinity.nodeAffinity", "webhook.affinity.podAffinity", "webhook.affinity.podAntiAffinity",
        "networkPolicy.ingressFrom[].ipBlock", "networkPolicy.ingressFrom[].namespaceSelector",
        "networkPolicy.ingressFrom[].podSelector",
    ])


def test_every_value_in_values_yaml_is_in_the_schema():
    values = load_documents((CHART_DIR / "values.yaml").read_text())[0]
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())

    def missing(values_node, schema_node, path):
        while "$ref" in schema_node:
            schema_node = schema["definitions"][schema_node["$ref"].rsplit("/", 1)[1]]
        if not isinstance(values_node, dict) or "properties" not in schema_node:
            return []
        gaps = [f"{path}.{key}" for key in values_node if key not in schema_node["properties"]]
        gaps += [f"{path}.{key}" for key in schema_node.get("required", []) if key not in values_node]
        for key, value in values_node.items():
            if key in schema_node["properties"]:
                gaps += missing(value, schema_node["properties"][key], f"{path}.{key}")
        return gaps

    assert missing(values, schema, "") == []


def contract_number(name: str) -> int:
    """A number #defined in common/offload_contract.h, the one place the webhook and the offloader
    take their shared limits from."""
    text = (REPO_ROOT / "common" / "offload_contract.h").read_text()
    [value] = re.findall(rf"^#define {name} (\d+)$", text, re.MULTILINE)
    return int(value)


def test_max_completions_is_the_contract_limit():
    """The chart allows exactly the completions the webhook's --max-completions and the offloader's
    COMPLETIONS do: the contract's OFFLOAD_MAX_COMPLETIONS, Kubernetes' own limit for Indexed Jobs."""
    limit = contract_number("OFFLOAD_MAX_COMPLETIONS")
    assert limit == 100000
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    assert schema["properties"]["offload"]["properties"]["maxCompletions"]["maximum"] == limit
    [webhook] = find(render({"offload": {"maxCompletions": limit}}), "Deployment")["spec"]["template"]["spec"]["containers"]
    assert f"--max-completions={limit}" in webhook["args"]
    assert f"offload.maxCompletions: Must be less than or equal to {limit}" in \
        render_error({"offload": {"maxCompletions": limit + 1}})
