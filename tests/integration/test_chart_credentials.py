"""charts/batch-offload: how offloader pods get Azure credentials in the offload namespaces.
The copy source is read with `lookup`; a FakeKubeApi plays the cluster."""
import base64

import pytest

from fake_kube_api import FakeKubeApi
from helm_chart import find_all, render, render_error
from repo_paths import deps_binary_or_skip

CLIENT_ID = "00000000-0000-0000-0000-000000000001"
TENANT_ID = "00000000-0000-0000-0000-000000000002"


@pytest.fixture(autouse=True)
def helm():
    return deps_binary_or_skip("helm")


def credential_secrets(objects):
    return [s for s in find_all(objects, "Secret") if s["metadata"]["name"] == "batch-offload-credentials"]


def in_namespace(objects, namespace):
    return sorted((o["kind"], o["metadata"]["name"]) for o in objects
                  if o["metadata"].get("namespace") == namespace)


def test_external_source_creates_no_secret_in_user_namespaces():
    objects = render({"offload": {"namespaces": ["team-a"]}})
    assert credential_secrets(objects) == []
    # Only what offloader.kubernetesAccess (on by default) puts there.
    assert in_namespace(objects, "team-a") == [("Role", "batch-offload-offloader"),
                                               ("RoleBinding", "batch-offload-offloader"),
                                               ("ServiceAccount", "batch-offload-offloader")]
    without_access = render({"offload": {"namespaces": ["team-a"]}, "offloader": {"kubernetesAccess": False}})
    assert in_namespace(without_access, "team-a") == []
    # The release namespace's own: the webhook's and gc's.
    assert sorted(s["metadata"]["name"] for s in find_all(without_access, "ServiceAccount")) == [
        "rel-batch-offload", "rel-batch-offload-gc"]


def test_values_source_creates_the_secret_in_each_offload_namespace():
    objects = render({"offload": {"namespaces": ["team-a", "team-b"]}, "credentials": {"source": "values", "values": {
        "BATCHCONNECTIONSTRING": "https://acct.westeurope.batch.azure.com", "BATCHNAME": "acct",
        "BATCHPASSWORD": "account-key", "STORAGEACCOUNT": "st", "STORAGEKEY": "storage-key"}}})
    secrets = credential_secrets(objects)
    assert [s["metadata"]["namespace"] for s in secrets] == ["team-a", "team-b"]
    for secret in secrets:
        assert secret["type"] == "Opaque"
        decoded = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
        assert decoded == {"BATCHCONNECTIONSTRING": "https://acct.westeurope.batch.azure.com", "BATCHNAME": "acct",
                           "BATCHPASSWORD": "account-key", "STORAGEACCOUNT": "st", "STORAGEKEY": "storage-key"}
    assert [s["metadata"]["labels"]["app.kubernetes.io/component"] for s in secrets] == ["offloader", "offloader"]


def test_copy_source_copies_only_the_credential_keys():
    source = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": {"name": "azure-batch", "namespace": "batch-offload"},
              "data": {"BATCHNAME": "YWNjdA==", "BATCHPASSWORD": "a2V5", "UNRELATED": "eA=="}}
    api = FakeKubeApi([source])
    objects = render({"offload": {"namespaces": ["team-a", "team-b"]},
                      "credentials": {"source": "copy", "copyFromSecret": "azure-batch"}}, api=api)
    secrets = credential_secrets(objects)
    assert [s["metadata"]["namespace"] for s in secrets] == ["team-a", "team-b"]
    assert all(s["data"] == {"BATCHNAME": "YWNjdA==", "BATCHPASSWORD": "a2V5"} for s in secrets)
    assert "/api/v1/namespaces/batch-offload/secrets/azure-batch" in api.requests


def test_copy_source_refuses_a_missing_secret():
    error = render_error({"offload": {"namespaces": ["team-a"]},
                          "credentials": {"source": "copy", "copyFromSecret": "azure-batch"}}, api=FakeKubeApi())
    assert "Secret batch-offload/azure-batch was not found" in error


@pytest.mark.parametrize("credentials, message", [
    ({"source": "values", "values": {"BATCHNAME": "acct"}},
     "credentials.source=values: list the namespaces in offload.namespaces"),
    ({"source": "copy", "copyFromSecret": "x"}, "credentials.source=copy: list the namespaces in offload.namespaces"),
])
def test_distributing_needs_offload_namespaces(credentials, message):
    assert message in render_error({"credentials": credentials})


def test_values_source_needs_at_least_one_key():
    error = render_error({"offload": {"namespaces": ["team-a"]}, "credentials": {"source": "values"}})
    assert "credentials.source=values: no credential keys to distribute" in error


@pytest.mark.parametrize("access", [False, True], ids=["without API access", "with API access"])
def test_workload_identity_service_accounts(access):
    """One ServiceAccount per namespace either way; with API access the offloader's Role is bound to it.
    Without, workload identity alone names it, as before API access existed."""
    offloader = {"kubernetesAccess": True, "serviceAccountName": "offloader"} if access else {"kubernetesAccess": False}
    objects = render({"offload": {"namespaces": ["team-a", "team-b"]}, "offloader": offloader,
                      "credentials": {"workloadIdentity": {
                          "enabled": True, "createServiceAccount": True, "serviceAccountName": "offloader",
                          "clientId": CLIENT_ID, "tenantId": TENANT_ID, "serviceAccountLabels": {"team": "batch"}}}})
    accounts = [a for a in find_all(objects, "ServiceAccount") if a["metadata"]["namespace"] != "batch-offload"]
    assert [(a["metadata"]["namespace"], a["metadata"]["name"]) for a in accounts] == [
        ("team-a", "offloader"), ("team-b", "offloader")]
    bindings = find_all(objects, "RoleBinding")
    assert [b["subjects"] for b in bindings] == ([[{"kind": "ServiceAccount", "name": "offloader", "namespace": ns}]
                                                  for ns in ("team-a", "team-b")] if access else [])
    for account in accounts:
        assert account["metadata"]["annotations"] == {"azure.workload.identity/client-id": CLIENT_ID,
                                                      "azure.workload.identity/tenant-id": TENANT_ID}
        assert account["metadata"]["labels"]["team"] == "batch"
        # The use label belongs on the pods (the webhook adds it), not on the ServiceAccount.
        assert "azure.workload.identity/use" not in account["metadata"]["labels"]
        assert account["automountServiceAccountToken"] is False


@pytest.mark.parametrize("identity, message", [
    ({"createServiceAccount": True, "clientId": CLIENT_ID},
     "createServiceAccount needs credentials.workloadIdentity.enabled=true"),
    ({"enabled": True, "createServiceAccount": True},
     "credentials.workloadIdentity.clientId is required to create the offloader ServiceAccount"),
])
def test_workload_identity_refuses_incomplete_settings(identity, message):
    error = render_error({"offload": {"namespaces": ["team-a"]}, "credentials": {"workloadIdentity": identity}})
    assert message in error
