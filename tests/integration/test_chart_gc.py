"""charts/batch-offload: the garbage collector (gc.*). A CronJob running `batch-offloader gc` with the
chart's retention and dry-run settings, as restricted as the webhook's pods, in the offloader image;
a ServiceAccount whose ClusterRole allows get and list on jobs.batch and nothing else (the rule
docs/KUBERNETES.md gives); the Batch account's keys, and only those, from a Secret in the release
namespace. Then the chart's objects on a real kube-apiserver: the account may read Jobs and do
nothing else, and the CronJob's pod, run by the kubelet stand-in with the real offloader, deletes
what a gone Job left on the Batch emulator (needs BATCH_OFFLOAD_KUBE_ASSETS)."""
import base64
import uuid

import pytest

from batch_emulator.testing import ACCOUNT, KEY, wait_until
from fake_kube_api import FakeKubeApi
from helm_chart import find, find_all, install_notes, render, render_error
from k8s_schema import validate_many
from offloader_process import SANITIZER_MARKERS, batch, job_status, offload_emulator, offloader_binary  # noqa: F401
from documented_rbac import documented_rules
from repo_paths import REPO_ROOT, deps_binary_or_skip

CLIENT_ID = "00000000-0000-0000-0000-000000000001"
TENANT_ID = "00000000-0000-0000-0000-000000000002"
GC = "rel-batch-offload-gc"
GC_KINDS = {"CronJob", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Secret"}
CLUSTER_ROLE_RULES = [{"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list"]}]
GC_LABELS = {"app.kubernetes.io/name": "batch-offload", "app.kubernetes.io/instance": "rel",
             "app.kubernetes.io/component": "gc", "app.kubernetes.io/part-of": "batch-offload",
             "app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/version": "0.1.0",
             "helm.sh/chart": "batch-offload-0.1.0"}
BATCH_KEYS = ["BATCHCONNECTIONSTRING", "BATCHNAME", "BATCHPASSWORD",
              "SECONDARY_BATCHCONNECTIONSTRING", "SECONDARY_BATCHNAME", "SECONDARY_BATCHPASSWORD"]
ENTRA_KEYS = ["AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_AUTHORITY_HOST"]
VALUES_CREDENTIALS = {"BATCHCONNECTIONSTRING": "https://acct.westeurope.batch.azure.com", "BATCHNAME": "acct",
                      "BATCHPASSWORD": "account-key", "STORAGEACCOUNT": "st", "STORAGEKEY": "storage-key",
                      "REGISTRYNAME": "r.azurecr.io", "REGISTRYUSERNAME": "u", "REGISTRYPASSWORD": "registry-password"}


@pytest.fixture(autouse=True)
def helm():
    return deps_binary_or_skip("helm")


def gc_objects(objects):
    return [o for o in objects if o["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "gc"]


def cron_job(objects):
    return find(objects, "CronJob", GC)


def pod_spec(objects):
    return cron_job(objects)["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def container(objects):
    [only] = pod_spec(objects)["containers"]
    return only


def env_of(objects):
    return {e["name"]: e for e in container(objects).get("env", [])}


def secret_refs(objects):
    """{variable: (secret, key)}; fails on any variable that is not an optional secretKeyRef."""
    refs = {}
    for name, entry in env_of(objects).items():
        if "value" in entry:
            continue
        ref = entry["valueFrom"]["secretKeyRef"]
        assert ref["optional"] is True, entry
        refs[name] = (ref["name"], ref["key"])
    return refs


def webhook_args(objects):
    [webhook] = find(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    return webhook["args"]


# ---- the CronJob ----

def test_defaults_render_the_cron_job_that_runs_gc():
    objects = render()
    job = cron_job(objects)
    assert job["metadata"]["namespace"] == "batch-offload"
    spec = job["spec"]
    assert spec["schedule"] == "17,47 * * * *"  # every 30 minutes, as docs/KUBERNETES.md says
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] == 600
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (1, 3)
    job_spec = spec["jobTemplate"]["spec"]
    assert job_spec["backoffLimit"] == 0  # exit 3 means "the next run tries again"
    assert job_spec["activeDeadlineSeconds"] == 1500
    pod = pod_spec(objects)
    assert pod["restartPolicy"] == "Never"
    assert pod["serviceAccountName"] == GC
    assert pod["automountServiceAccountToken"] is True  # gc reads Jobs through the API
    assert pod["enableServiceLinks"] is False
    gc = container(objects)
    # The image's entrypoint is batch-offloader, as for offloader pods: args only.
    assert "command" not in gc
    assert gc["args"] == ["gc", "--retention-hours", "24"]
    assert gc["image"] == "ghcr.io/batch-offload/batch-offloader:0.1.0"
    assert gc["resources"] == {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "128Mi"}}
    for obj in (job, job["spec"]["jobTemplate"], job["spec"]["jobTemplate"]["spec"]["template"]):
        assert obj["metadata"]["labels"] == GC_LABELS  # never the webhook's selector labels


def test_gc_runs_the_image_the_webhook_gives_offloader_pods():
    image = {"repository": "registry.example.com/platform/batch-offloader", "tag": "1.2.3",
             "digest": "sha256:" + "b" * 64}
    objects = render({"offloader": {"image": image}})
    offloader_image = next(a for a in webhook_args(objects) if a.startswith("--offloader-image="))
    assert container(objects)["image"] == offloader_image.split("=", 1)[1] == \
        "registry.example.com/platform/batch-offloader:1.2.3@sha256:" + "b" * 64


@pytest.mark.parametrize("gc, args", [
    ({"dryRun": True}, ["gc", "--retention-hours", "24", "--dry-run"]),
    ({"retentionHours": 1}, ["gc", "--retention-hours", "1"]),
    ({"retentionHours": 87600, "dryRun": True}, ["gc", "--retention-hours", "87600", "--dry-run"]),
])
def test_retention_and_dry_run_become_gcs_options(gc, args):
    assert container(render({"gc": gc}))["args"] == args


def test_schedule_deadline_resources_and_placement_from_values():
    objects = render({"imagePullSecrets": [{"name": "registry"}], "gc": {
        "schedule": "@hourly", "activeDeadlineSeconds": 600,
        "resources": {"requests": {"cpu": "20m", "memory": "32Mi"}, "limits": {"memory": "256Mi"}},
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "system", "effect": "NoSchedule"}]}})
    assert validate_many(gc_objects(objects), release="1.30") == []
    job = cron_job(objects)
    assert job["spec"]["schedule"] == "@hourly"
    assert job["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 600
    assert container(objects)["resources"] == {"requests": {"cpu": "20m", "memory": "32Mi"},
                                               "limits": {"memory": "256Mi"}}
    pod = pod_spec(objects)
    assert pod["imagePullSecrets"] == [{"name": "registry"}]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["tolerations"][0]["key"] == "dedicated"


def test_the_pod_is_as_restricted_as_the_webhooks():
    objects = render()
    [webhook] = find(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    webhook_pod = find(objects, "Deployment")["spec"]["template"]["spec"]["securityContext"]
    pod = pod_spec(objects)["securityContext"]
    assert pod == {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532,
                   "seccompProfile": {"type": "RuntimeDefault"}}
    assert {k: v for k, v in webhook_pod.items() if k != "fsGroup"} == pod  # the webhook's owns a key file
    assert container(objects)["securityContext"] == webhook["securityContext"] == {
        "allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True,
        "runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532, "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"}}
    assert "volumes" not in pod_spec(objects) and "volumeMounts" not in container(objects)


# ---- its Kubernetes access ----

def test_the_cluster_role_allows_exactly_get_and_list_on_jobs():
    objects = render()
    role = find(objects, "ClusterRole", GC)
    assert role["rules"] == CLUSTER_ROLE_RULES
    assert set(role) == {"apiVersion", "kind", "metadata", "rules"}  # no aggregationRule, nothing else
    assert role["metadata"]["labels"] == GC_LABELS
    binding = find(objects, "ClusterRoleBinding", GC)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": GC}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": GC, "namespace": "batch-offload"}]
    account = find(objects, "ServiceAccount", GC)
    assert account["metadata"]["namespace"] == "batch-offload"
    assert account["automountServiceAccountToken"] is False  # only the CronJob's pods ask for a token
    assert "annotations" not in account["metadata"]
    # Nothing else is bound to the gc account, in any mode.
    everything = render({"offload": {"namespaces": ["team-a"]}, "credentials": {"workloadIdentity": {
        "enabled": True, "createServiceAccount": True, "clientId": CLIENT_ID}}})
    bound = [b["metadata"]["name"] for b in find_all(everything, "RoleBinding") + find_all(everything, "ClusterRoleBinding")
             if any(s["name"] == GC for s in b["subjects"])]
    assert bound == [GC]


def documented_cluster_role_rules():
    return documented_rules("whose ClusterRole of the same name allows exactly", "and a ClusterRoleBinding")


def test_the_cluster_role_is_the_one_docs_kubernetes_md_specifies():
    assert documented_cluster_role_rules() == CLUSTER_ROLE_RULES
    assert find(render(), "ClusterRole", GC)["rules"] == documented_cluster_role_rules()
    text = (REPO_ROOT / "docs" / "KUBERNETES.md").read_text()
    assert "ServiceAccount `<release>-batch-offload-gc`" in text
    assert find(render(release="batch-offload"), "ServiceAccount", "batch-offload-gc")


def test_names_follow_the_full_name_and_fit_a_cron_job():
    named = render({"fullnameOverride": "platform-offload"})
    assert {(o["kind"], o["metadata"]["name"]) for o in gc_objects(named)} == {
        (kind, "platform-offload-gc") for kind in ("CronJob", "ServiceAccount", "ClusterRole", "ClusterRoleBinding")}
    long = render({"fullnameOverride": "a" * 63})
    [name] = {o["metadata"]["name"] for o in gc_objects(long)}
    assert name == "a" * 49 + "-gc" and len(name) <= 52  # a CronJob's Jobs add 11 characters
    assert validate_many(gc_objects(long), release="1.30") == []


def test_disabled_renders_none_of_it():
    objects = render({"gc": {"enabled": False}, "offload": {"namespaces": ["team-a"]},
                      "credentials": {"source": "values", "values": VALUES_CREDENTIALS}})
    assert gc_objects(objects) == []
    assert find_all(objects, "CronJob") == find_all(objects, "ClusterRole") == find_all(objects, "ClusterRoleBinding") == []
    assert all("gc" not in o["metadata"]["name"] for o in objects)
    assert sorted(o["metadata"]["name"] for o in find_all(objects, "ServiceAccount")) == [
        "batch-offload-offloader", "rel-batch-offload"]
    assert "gc:" not in install_notes({"gc": {"enabled": False}})


# ---- its Azure credentials ----

def test_external_credentials_come_from_the_secret_of_that_name_in_the_release_namespace():
    objects = render()
    refs = secret_refs(objects)
    assert refs == {key: ("batch-offload-credentials", key) for key in BATCH_KEYS + ENTRA_KEYS}
    assert "BATCH_OFFLOAD_AUTH" not in env_of(objects)
    renamed = render({"credentials": {"secretName": "azure-batch"}})
    assert set(secret_refs(renamed).values()) == {("azure-batch", key) for key in BATCH_KEYS + ENTRA_KEYS}
    # No Secret is made for it: the platform provides it (the NOTES say where).
    assert [s["metadata"]["name"] for s in find_all(objects, "Secret")] == ["rel-batch-offload-tls"]
    notes = install_notes()
    assert 'Batch account from the Secret "batch-offload-credentials" in namespace batch-offload\n' \
           "(credentials.source=external: the platform puts it there too)" in notes


def test_gc_never_reads_storage_or_registry_keys():
    for values in ({}, {"offload": {"namespaces": ["team-a"]}, "credentials": {"source": "values", "values": VALUES_CREDENTIALS}}):
        names = set(env_of(render(values)))
        assert names <= set(BATCH_KEYS + ENTRA_KEYS + ["BATCH_OFFLOAD_AUTH"])
        assert not any(name.startswith(("STORAGE", "SECONDARY_STORAGE", "REGISTRY", "BLOB")) for name in names)


def test_copy_credentials_are_read_from_the_source_secret():
    source = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": {"name": "azure-batch", "namespace": "batch-offload"},
              "data": {"BATCHNAME": "YWNjdA==", "BATCHPASSWORD": "a2V5"}}
    objects = render({"offload": {"namespaces": ["team-a"]},
                      "credentials": {"source": "copy", "copyFromSecret": "azure-batch"}}, api=FakeKubeApi([source]))
    assert set(secret_refs(objects).values()) == {("azure-batch", key) for key in BATCH_KEYS + ENTRA_KEYS}
    # Nothing new in the release namespace: the copies go to the offload namespaces only.
    assert [s["metadata"]["namespace"] for s in find_all(objects, "Secret")
            if s["metadata"]["name"] != "rel-batch-offload-tls"] == ["team-a"]


def test_values_credentials_make_a_secret_of_the_batch_keys_for_gc():
    objects = render({"offload": {"namespaces": ["team-a"]},
                      "credentials": {"source": "values", "values": VALUES_CREDENTIALS}})
    secret = find(objects, "Secret", "rel-batch-offload-gc-credentials")
    assert secret["metadata"]["namespace"] == "batch-offload"
    assert secret["metadata"]["labels"] == GC_LABELS
    decoded = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    assert decoded == {"BATCHCONNECTIONSTRING": "https://acct.westeurope.batch.azure.com", "BATCHNAME": "acct",
                       "BATCHPASSWORD": "account-key"}
    assert set(secret_refs(objects).values()) == {("rel-batch-offload-gc-credentials", key)
                                                  for key in BATCH_KEYS + ENTRA_KEYS}
    assert validate_many(gc_objects(objects), release="1.30") == []
    notes = install_notes({"offload": {"namespaces": ["team-a"]},
                           "credentials": {"source": "values", "values": VALUES_CREDENTIALS}})
    assert 'Secret "rel-batch-offload-gc-credentials" in namespace batch-offload. Run it now:' in notes


@pytest.mark.parametrize("credentials", [
    {}, {"source": "values", "values": VALUES_CREDENTIALS}, {"source": "copy", "copyFromSecret": "azure-batch"},
], ids=["external", "values", "copy"])
def test_gc_credentials_secret_overrides_every_source(credentials):
    source = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "azure-batch", "namespace": "batch-offload"},
              "data": {"BATCHNAME": "YWNjdA=="}}
    objects = render({"offload": {"namespaces": ["team-a"]}, "credentials": credentials,
                      "gc": {"credentialsSecret": "gc-batch"}},
                     api=FakeKubeApi([source]) if credentials.get("source") == "copy" else None)
    assert set(secret_refs(objects).values()) == {("gc-batch", key) for key in BATCH_KEYS + ENTRA_KEYS}
    # The chart makes no Secret for gc: the one named is the platform's.
    assert "rel-batch-offload-gc-credentials" not in {s["metadata"]["name"] for s in find_all(objects, "Secret")}


def test_offloader_auth_applies_to_gc_too():
    objects = render({"offload": {"offloaderAuth": "managed-identity"}})
    assert env_of(objects)["BATCH_OFFLOAD_AUTH"] == {"name": "BATCH_OFFLOAD_AUTH", "value": "managed-identity"}
    assert "--offloader-auth=managed-identity" in webhook_args(objects)


def test_workload_identity_federates_gcs_account_and_leaves_the_azure_variables_to_its_webhook():
    objects = render({"offload": {"namespaces": ["team-a"], "offloaderAuth": "workload-identity"},
                      "credentials": {"workloadIdentity": {"enabled": True, "clientId": CLIENT_ID, "tenantId": TENANT_ID}}})
    assert validate_many(gc_objects(objects), release="1.30") == []
    account = find(objects, "ServiceAccount", GC)
    assert account["metadata"]["annotations"] == {"azure.workload.identity/client-id": CLIENT_ID,
                                                  "azure.workload.identity/tenant-id": TENANT_ID}
    template = cron_job(objects)["spec"]["jobTemplate"]["spec"]["template"]
    assert template["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    # The Azure Workload Identity webhook adds AZURE_CLIENT_ID and the rest only where the container
    # names no such variable: gc must not name them.
    assert set(env_of(objects)) == set(BATCH_KEYS) | {"BATCH_OFFLOAD_AUTH"}
    # Without workload identity, no such label.
    assert "azure.workload.identity/use" not in cron_job(render())["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]


def test_workload_identity_needs_a_client_id_for_gcs_account():
    error = render_error({"offload": {"namespaces": ["team-a"]},
                          "credentials": {"workloadIdentity": {"enabled": True}}})
    assert "credentials.workloadIdentity.clientId is required for gc's ServiceAccount" in error
    assert render({"offload": {"namespaces": ["team-a"]}, "gc": {"enabled": False},
                   "credentials": {"workloadIdentity": {"enabled": True}}})


SCENARIOS = {
    "defaults": {},
    "dry run, values credentials": {"gc": {"dryRun": True}, "offload": {"namespaces": ["team-a"]},
                                    "credentials": {"source": "values", "values": VALUES_CREDENTIALS}},
    "workload identity": {"offload": {"namespaces": ["team-a"]}, "credentials": {"workloadIdentity": {
        "enabled": True, "createServiceAccount": True, "clientId": CLIENT_ID}}},
    "everything": {"imagePullSecrets": [{"name": "registry"}], "offload": {"offloaderAuth": "client-secret"},
                   "gc": {"schedule": "*/5 * * * *", "retentionHours": 168, "dryRun": True,
                          "activeDeadlineSeconds": 86400, "credentialsSecret": "gc-batch",
                          "resources": {"requests": {"cpu": "1", "ephemeral-storage": "10Mi"}},
                          "nodeSelector": {"pool": "system"},
                          "tolerations": [{"operator": "Exists"}]}},
}


@pytest.mark.parametrize("values", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_every_gc_object_is_valid_kubernetes_1_30(values):
    objects = render(values)
    found = gc_objects(objects)
    assert {o["kind"] for o in found} <= GC_KINDS and {"CronJob", "ClusterRole"} <= {o["kind"] for o in found}
    assert validate_many(found, release="1.30") == []


def test_notes_say_when_gc_runs_and_how_to_run_it_now():
    notes = install_notes({"gc": {"dryRun": True, "retentionHours": 48}})
    assert 'gc: CronJob rel-batch-offload-gc ("17,47 * * * *") deletes the Batch jobs whose Job is gone,' in notes
    assert "over 48 hours ago (gc.dryRun: it only logs them)" in notes
    assert "kubectl -n batch-offload create job --from=cronjob/rel-batch-offload-gc rel-batch-offload-gc-now" in notes
    assert "dryRun" not in install_notes()


# ---- on a real kube-apiserver ----

OFFLOADER_IMAGE = "ghcr.io/batch-offload/batch-offloader:0.1.0"  # the chart's default
TIMEOUT = 60


@pytest.fixture(scope="module")
def kubelet_images(offloader_binary):
    """The stand-in runs the chart's offloader image as the batch-offloader under test."""
    return {OFFLOADER_IMAGE: [str(offloader_binary)]}


@pytest.fixture
def installed_gc(control_plane, namespace):
    """The chart's gc objects (release namespace = namespace) on the API server; the release name is
    unique, since the ClusterRole and its binding are cluster-wide. Deleted afterwards."""
    release = f"r{uuid.uuid4().hex[:6]}"
    objects = gc_objects(render(release=release, namespace=namespace))
    assert sorted(o["kind"] for o in objects) == ["ClusterRole", "ClusterRoleBinding", "CronJob", "ServiceAccount"]
    for obj in objects:
        control_plane.apply(obj)
    yield {"release": release, "namespace": namespace, "name": f"{release}-batch-offload-gc"}
    for obj in objects:
        if obj["kind"] in ("ClusterRole", "ClusterRoleBinding"):
            control_plane.kubectl("delete", obj["kind"].lower(), obj["metadata"]["name"], "--ignore-not-found")


def can_i(control_plane, account: str, verb: str, resource: str, namespace: str = None) -> bool:
    scope = ["-n", namespace] if namespace else ["--all-namespaces"]
    answer = control_plane.kubectl("auth", "can-i", verb, resource, *scope, f"--as={account}", check=False)
    assert answer.stdout.strip() in ("yes", "no"), answer.stdout + answer.stderr
    return answer.stdout.strip() == "yes"


def test_the_gc_account_may_read_jobs_everywhere_and_do_nothing_else(control_plane, installed_gc):
    account = f"system:serviceaccount:{installed_gc['namespace']}:{installed_gc['name']}"
    other = f"team-{uuid.uuid4().hex[:6]}"
    control_plane.kubectl("create", "namespace", other)
    for namespace in (None, installed_gc["namespace"], other):
        assert can_i(control_plane, account, "get", "jobs.batch", namespace)
        assert can_i(control_plane, account, "list", "jobs.batch", namespace)
    for verb, resource in [("watch", "jobs.batch"), ("create", "jobs.batch"), ("patch", "jobs.batch"),
                           ("update", "jobs.batch"), ("delete", "jobs.batch"), ("deletecollection", "jobs.batch"),
                           ("patch", "jobs.batch/status"), ("get", "cronjobs.batch"), ("get", "pods"),
                           ("list", "secrets"), ("get", "secrets"), ("create", "events"), ("list", "namespaces"),
                           ("create", "serviceaccounts/token"), ("get", "configmaps"), ("*", "*")]:
        for namespace in (None, other):
            assert not can_i(control_plane, account, verb, resource, namespace), (verb, resource, namespace)


def made_by_batch_offload(batch, job_id, namespace, name, uid):
    metadata = {"batch-offload.io/created-by": "batch-offload", "batch-offload.io/namespace": namespace,
                "batch-offload.io/job-name": name, "batch-offload.io/job-uid": uid}
    batch.create_job(job_id, metadata=[{"name": k, "value": v} for k, v in metadata.items()])


def suspended_job(name: str) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"suspend": True, "template": {"spec": {
                "restartPolicy": "Never", "containers": [{"name": "work", "image": "busybox:1.36"}]}}}}


def test_the_cron_jobs_pod_collects_what_a_gone_job_left(control_plane, kubelet, kubelet_namespace, installed_gc,
                                                         offload_emulator, batch):
    """The CronJob as the chart renders it, started at once (kubectl create job --from=cronjob), its
    pod run by the kubelet stand-in with the chart's args, its env resolved from the Secret and its
    service account's token: the Batch job of a deleted Job goes, that of a live Job in another
    namespace stays, and the run exits 0, so the Job completes."""
    namespace = installed_gc["namespace"]
    assert namespace == kubelet_namespace
    team = f"team-{uuid.uuid4().hex[:6]}"
    control_plane.kubectl("create", "namespace", team)
    control_plane.apply(suspended_job("live"), namespace=team)
    live = control_plane.get("job", "live", team)
    made_by_batch_offload(batch, "bo-live", team, "live", live["metadata"]["uid"])
    made_by_batch_offload(batch, "bo-gone", team, "deleted", str(uuid.uuid4()))
    batch.create_job("not-ours")
    control_plane.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "batch-offload-credentials"},
                         "stringData": {"BATCHCONNECTIONSTRING": offload_emulator.url, "BATCHNAME": ACCOUNT,
                                        "BATCHPASSWORD": KEY, "STORAGEKEY": "never-read"}},
                        namespace=namespace)

    name = installed_gc["name"]
    control_plane.kubectl("create", "job", f"--from=cronjob/{name}", "gc-now", "-n", namespace)

    def finished():
        status = control_plane.get("job", "gc-now", namespace).get("status", {})
        return status if status.get("succeeded") or status.get("failed") else None
    status = wait_until(finished, timeout=TIMEOUT, interval=0.2, what="the gc Job to finish")
    [pod] = control_plane.get("pods", namespace=namespace, selector="job-name=gc-now")
    log = kubelet.logs(namespace, pod["metadata"]["name"])
    assert status.get("succeeded") == 1, log
    assert pod["spec"]["serviceAccountName"] == name
    assert not any(marker in log for marker in SANITIZER_MARKERS), log
    assert "batch_offload_jobs=2 deleted=1 left=1 unanswered=0 failed=0" in log, log
    assert job_status(batch, "bo-gone") is None
    assert job_status(batch, "bo-live") == "active"
    assert job_status(batch, "not-ours") == "active"
