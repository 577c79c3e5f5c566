"""charts/batch-offload: offloader.kubernetesAccess. In each offload namespace one ServiceAccount for
offloader pods (shared with workload identity), the Role docs/KUBERNETES.md lists and its RoleBinding;
the webhook is told to use that account (--offloader-service-account, --offloader-api-access), and the
real webhook, run with the chart's command line, puts exactly that account into the pod it makes."""
import base64
import json

import pytest

from admission_fixtures import load_fixture
from helm_chart import find, find_all, install_notes, render, render_error
from k8s_schema import validate_many
from kubectl_patch import apply_json_patch
from documented_rbac import documented_rules
from repo_paths import deps_binary_or_skip

CLIENT_ID = "00000000-0000-0000-0000-000000000001"
TENANT_ID = "00000000-0000-0000-0000-000000000002"
TEAMS = ["team-a", "team-b"]
ROLE_RULES = [
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "patch"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
]
OFFLOADER_LABELS = {"app.kubernetes.io/name": "batch-offload", "app.kubernetes.io/instance": "rel",
                    "app.kubernetes.io/component": "offloader", "app.kubernetes.io/part-of": "batch-offload",
                    "app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/version": "0.1.0",
                    "helm.sh/chart": "batch-offload-0.1.0"}


@pytest.fixture(autouse=True)
def helm():
    return deps_binary_or_skip("helm")


def in_namespace(objects, namespace):
    return {(o["kind"], o["metadata"]["name"]): o for o in objects if o["metadata"].get("namespace") == namespace}


def webhook_args(objects):
    [container] = find(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    return container["args"]


def access_flags(objects):
    return [a for a in webhook_args(objects)
            if a.startswith(("--offloader-service-account", "--offloader-api-access", "--workload-identity"))]


def test_each_offload_namespace_gets_the_account_its_role_and_binding():
    objects = render({"offload": {"namespaces": TEAMS}})
    assert validate_many(objects, release="1.30") == []
    for namespace in TEAMS:
        found = in_namespace(objects, namespace)
        assert sorted(found) == [("Role", "batch-offload-offloader"), ("RoleBinding", "batch-offload-offloader"),
                                 ("ServiceAccount", "batch-offload-offloader")]
        account = found[("ServiceAccount", "batch-offload-offloader")]
        # The pod spec the webhook writes asks for the token; other pods naming the account get none.
        assert account["automountServiceAccountToken"] is False
        assert "annotations" not in account["metadata"]
        binding = found[("RoleBinding", "batch-offload-offloader")]
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                      "name": "batch-offload-offloader"}
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "batch-offload-offloader",
                                        "namespace": namespace}]
        for obj in found.values():
            assert obj["metadata"]["labels"] == OFFLOADER_LABELS  # never the webhook's selector labels
    assert access_flags(objects) == ["--offloader-service-account=batch-offload-offloader", "--offloader-api-access"]
    # Nothing cluster-wide for offloader pods: the only ClusterRoleBinding is gc's, to its own account.
    assert [b["subjects"] for b in find_all(objects, "ClusterRoleBinding")] == [
        [{"kind": "ServiceAccount", "name": "rel-batch-offload-gc", "namespace": "batch-offload"}]]


def test_the_role_allows_exactly_what_the_offloader_uses():
    for role in find_all(render({"offload": {"namespaces": TEAMS}}), "Role"):
        assert role["rules"] == ROLE_RULES
        assert set(role) == {"apiVersion", "kind", "metadata", "rules"}  # no aggregationRule, nothing else


def documented_role_rules():
    return documented_rules("Role `batch-offload-offloader` with exactly", "and a RoleBinding")


def test_the_role_is_the_one_docs_kubernetes_md_specifies():
    assert documented_role_rules() == ROLE_RULES
    [role, *_] = find_all(render({"offload": {"namespaces": TEAMS}}), "Role")
    assert role["rules"] == documented_role_rules()


def test_service_account_name_from_values():
    objects = render({"offload": {"namespaces": ["team-a"]}, "offloader": {"serviceAccountName": "offloader-pods"}})
    found = in_namespace(objects, "team-a")
    assert ("ServiceAccount", "offloader-pods") in found
    assert found[("RoleBinding", "batch-offload-offloader")]["subjects"][0]["name"] == "offloader-pods"
    assert access_flags(objects) == ["--offloader-service-account=offloader-pods", "--offloader-api-access"]


def test_access_off_creates_nothing_and_tells_the_webhook_nothing():
    objects = render({"offload": {"namespaces": TEAMS}, "offloader": {"kubernetesAccess": False}})
    assert all(in_namespace(objects, namespace) == {} for namespace in TEAMS)
    assert find_all(objects, "Role") == find_all(objects, "RoleBinding") == []
    assert access_flags(objects) == []


def test_without_offload_namespaces_access_stays_off_and_the_notes_say_why():
    """The chart cannot create the account in namespaces it does not know, and a pod naming a
    ServiceAccount its namespace lacks is never created: passing the flags would stop every
    offloaded Job from running, so the webhook is not told to use the account."""
    objects = render()
    assert find_all(objects, "Role") == find_all(objects, "RoleBinding") == []
    assert sorted(a["metadata"]["name"] for a in find_all(objects, "ServiceAccount")) == [
        "rel-batch-offload", "rel-batch-offload-gc"]
    assert access_flags(objects) == []
    notes = install_notes()
    assert "Offloader pods get no Kubernetes API access: offloader.kubernetesAccess takes effect in the\n" \
           "namespaces listed in offload.namespaces" in notes
    assert "Kubernetes API access" not in install_notes({"offload": {"namespaces": ["team-a"]}})
    assert "Kubernetes API access" not in install_notes({"offloader": {"kubernetesAccess": False}})


def test_workload_identity_and_access_share_one_service_account():
    objects = render({"offload": {"namespaces": TEAMS}, "credentials": {"workloadIdentity": {
        "enabled": True, "createServiceAccount": True, "clientId": CLIENT_ID, "tenantId": TENANT_ID}}})
    assert validate_many(objects, release="1.30") == []
    for namespace in TEAMS:
        found = in_namespace(objects, namespace)
        [account] = [o for (kind, _), o in found.items() if kind == "ServiceAccount"]
        assert account["metadata"]["name"] == "batch-offload-offloader"
        assert account["metadata"]["annotations"] == {"azure.workload.identity/client-id": CLIENT_ID,
                                                      "azure.workload.identity/tenant-id": TENANT_ID}
        assert account["automountServiceAccountToken"] is False
        assert found[("RoleBinding", "batch-offload-offloader")]["subjects"][0]["name"] == "batch-offload-offloader"
    assert access_flags(objects) == ["--offloader-service-account=batch-offload-offloader",
                                     "--workload-identity", "--offloader-api-access"]


def test_workload_identity_with_the_platforms_accounts_gets_only_the_role_bound():
    """createServiceAccount false: the platform makes the (federated) ServiceAccount; the chart must not
    create a second one of that name, only bind the offloader's Role to it."""
    objects = render({"offload": {"namespaces": TEAMS}, "credentials": {"workloadIdentity": {
        "enabled": True, "clientId": CLIENT_ID}}})
    for namespace in TEAMS:
        found = in_namespace(objects, namespace)
        assert sorted(found) == [("Role", "batch-offload-offloader"), ("RoleBinding", "batch-offload-offloader")]
        assert found[("RoleBinding", "batch-offload-offloader")]["subjects"] == [
            {"kind": "ServiceAccount", "name": "batch-offload-offloader", "namespace": namespace}]


def test_workload_identity_and_access_must_name_the_same_account():
    error = render_error({"offload": {"namespaces": TEAMS}, "credentials": {"workloadIdentity": {
        "enabled": True, "clientId": CLIENT_ID, "serviceAccountName": "federated"}}})
    assert ("credentials.workloadIdentity.serviceAccountName (federated) and offloader.serviceAccountName "
            "(batch-offload-offloader) must be the same") in error
    # Either agreeing, or without API access (workload identity names the account, as before), renders.
    agreeing = render({"offload": {"namespaces": TEAMS}, "offloader": {"serviceAccountName": "federated"},
                       "credentials": {"workloadIdentity": {"enabled": True, "clientId": CLIENT_ID,
                                                            "serviceAccountName": "federated"}}})
    assert "--offloader-service-account=federated" in webhook_args(agreeing)
    alone = render({"offload": {"namespaces": TEAMS}, "offloader": {"kubernetesAccess": False},
                    "credentials": {"workloadIdentity": {"enabled": True, "clientId": CLIENT_ID,
                                                         "serviceAccountName": "federated"}}})
    assert access_flags(alone) == ["--offloader-service-account=federated", "--workload-identity"]


# ---- the real webhook, run with the chart's command line ----

def offloader_pod_from_the_webhook(start_webhook, values, namespace):
    """The offloader pod template the webhook makes of the kubectl fixture Job in namespace, the webhook
    started with the flags the chart renders for values (its own loopback port and certificate)."""
    args = [a for a in webhook_args(render(values)) if not a.startswith(("--listen=", "--tls-"))]
    image = next(a for a in args if a.startswith("--offloader-image="))
    args = [a for a in args if a != image] + ["--offloader-image", image.split("=", 1)[1]]
    webhook = start_webhook(*args)
    review = load_fixture("kubectl-job")
    review["request"]["namespace"] = review["request"]["object"]["metadata"]["namespace"] = namespace
    response = webhook.review(review)["response"]
    assert response["allowed"] is True, response
    job = apply_json_patch(review["request"]["object"], json.loads(base64.b64decode(response["patch"])))
    return job["spec"]["template"]


@pytest.mark.parametrize("values", [
    {"offload": {"namespaces": TEAMS}},
    {"offload": {"namespaces": TEAMS}, "offloader": {"serviceAccountName": "offloader-pods"}},
    {"offload": {"namespaces": TEAMS}, "credentials": {"workloadIdentity": {
        "enabled": True, "createServiceAccount": True, "clientId": CLIENT_ID}}},
], ids=["defaults", "named account", "workload identity"])
def test_the_webhook_runs_offloader_pods_as_the_account_the_chart_binds(start_webhook, values):
    template = offloader_pod_from_the_webhook(start_webhook, values, "team-b")
    pod = template["spec"]
    [binding] = [b for b in find_all(render(values), "RoleBinding") if b["metadata"]["namespace"] == "team-b"]
    assert pod["serviceAccountName"] == binding["subjects"][0]["name"]
    assert pod["automountServiceAccountToken"] is True
    [container] = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["BATCH_OFFLOAD_POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["BATCH_OFFLOAD_POD_UID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.uid"}}
    identity = values.get("credentials", {}).get("workloadIdentity", {}).get("enabled", False)
    assert (template["metadata"].get("labels", {}).get("azure.workload.identity/use") == "true") == identity


def test_without_access_the_webhook_gives_offloader_pods_no_token(start_webhook):
    pod = offloader_pod_from_the_webhook(start_webhook, {"offload": {"namespaces": TEAMS},
                                                         "offloader": {"kubernetesAccess": False}}, "team-a")["spec"]
    assert "serviceAccountName" not in pod
    assert pod["automountServiceAccountToken"] is False
    [container] = pod["containers"]
    assert "BATCH_OFFLOAD_POD_NAME" not in {e["name"] for e in container["env"]}
