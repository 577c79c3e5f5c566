"""Where the work would run, checked and watched (README, "Before the job exists" and "When tasks wait"):
before any Batch job exists, a named pool that is missing or runs no containers, or an auto pool image
Batch does not support (or with the wrong node agent), exits 2 naming what is wrong, and nothing is
created; Batch's own refusal of an auto pool's VM size (a scheduling error, or the pool's resize error)
exits 2 with Batch's words; a replacement pod re-attaches without the check. A pool deleted while its
tasks wait exits 2 naming it and ends the Batch job. An auto pool whose Spot nodes cannot be had says
why and what to do, waits by default, and with BATCH_OFFLOAD_SPOT_FALLBACK=dedicated gives the pool
dedicated nodes after BATCH_OFFLOAD_SPOT_FALLBACK_SECONDS; a replacement pod sees that it did.
The Events these leave on the Job are checked against a real kube-apiserver (BATCH_OFFLOAD_KUBE_ASSETS)."""
import json
import time
import uuid

import pytest

from batch_emulator.testing import wait_until
from offloader_process import (batch, job_status, new_job_id, offload_emulator, offloader,  # noqa: F401
                               offloader_binary, operation_count, stats, wait_job_gone)


def spec(**env):
    return json.dumps({"container": {"name": "worker", "env": [
        {"name": name, "value": str(value)} for name, value in env.items()]}})


def nothing_created(batch, run):
    assert operation_count(batch, "Jobs_CreateJob") == 0, stats(batch)
    assert job_status(batch, run.env["JOBID"]) is None


def set_account(batch, **offer):
    batch.control("POST", "account", offer)


# ----- before the job exists: a named pool -----

def test_a_missing_pool_exits_2_naming_it_and_the_account_before_any_job(offloader, batch):
    run = offloader.start(3, POOLID="render-farm").expect(2, timeout=60)
    [line] = run.lines("does not exist")
    assert "pool render-farm does not exist in Batch account emulatoraccount" in line, line
    assert offloader.emulator.url in line and "batch-offload.io/pool" in line
    nothing_created(batch, run)
    assert operation_count(batch, "Pools_GetPool") == 1


def test_a_pool_without_a_container_configuration_exits_2_saying_what_it_needs(offloader, batch):
    batch.create_pool("plain", containers=False)
    run = offloader.start(2, POOLID="plain").expect(2, timeout=60)
    [line] = run.lines("has no container configuration")
    assert "pool plain in Batch account emulatoraccount" in line
    assert "virtualMachineConfiguration.containerConfiguration" in line and "dockerCompatible" in line
    nothing_created(batch, run)


def test_a_pool_that_can_run_containers_passes_and_runs(offloader, batch):
    batch.create_pool("containers", containers=True)
    run = offloader.start(3, POOLID="containers").expect(0, timeout=60)
    assert operation_count(batch, "Pools_GetPool") >= 1 and not run.lines("error:"), run.stdout


def test_an_unanswered_pool_read_exits_3_and_creates_nothing(offloader, batch):
    batch.create_pool("containers", containers=True)
    batch.control("POST", "faults", {"status": 503, "count": 100000, "operations": ["Pools_GetPool"]})
    run = offloader.start(2, POOLID="containers", BATCH_OFFLOAD_RETRY_BUDGET_SECONDS=2).expect(3, timeout=60)
    assert "cannot read the pool" in run.stdout, run.stdout
    nothing_created(batch, run)


# ----- before the job exists: an auto pool's image -----

def test_an_image_batch_does_not_support_exits_2_with_images_it_does(offloader, batch):
    run = offloader.start(2, BATCH_OFFLOAD_POOL_IMAGE="contoso:secret-os:1:latest").expect(2, timeout=60)
    [line] = run.lines("is not one Batch supports")
    assert "contoso:secret-os:1 (BATCH_OFFLOAD_POOL_IMAGE" in line and "account emulatoraccount" in line
    assert "microsoft-dsvm:ubuntu-hpc:2204 (node agent \"batch.node.ubuntu 22.04\")" in line, line
    nothing_created(batch, run)
    assert operation_count(batch, "Pools_ListSupportedImages") == 1


def test_an_image_with_the_wrong_node_agent_exits_2_naming_the_right_one(offloader, batch):
    run = offloader.start(2, BATCH_OFFLOAD_POOL_IMAGE="canonical:ubuntu-24_04-lts:server:latest").expect(2, 60)
    assert 'needs node agent SKU "batch.node.ubuntu 24.04", not "batch.node.ubuntu 22.04"' in run.stdout
    nothing_created(batch, run)


def test_a_supported_image_without_the_docker_capability_is_only_a_warning(offloader, batch):
    run = offloader.start(1, BATCH_OFFLOAD_POOL_IMAGE="canonical:ubuntu-24_04-lts:server:latest",
                          BATCH_OFFLOAD_NODE_AGENT_SKU="batch.node.ubuntu 24.04").expect(0, timeout=60)
    assert run.lines("warn: Batch does not list the DockerCompatible capability"), run.stdout


# ----- the auto pool's VM size: only Batch can say -----

def test_a_vm_size_batch_refuses_for_the_auto_pool_exits_2_with_batchs_message(offloader, batch):
    # The data plane lists no VM sizes: Batch's answer is the job's scheduling error.
    run = offloader.start(2, VMSIZE="Standard_D2_v9").expect(2, timeout=60)
    [line] = run.lines("Batch ended the job before it could run")
    assert "InvalidAutoPoolSettings: The specified autopool settings are not valid." in line, line
    assert "PropertyName: vmSize" in line and "Standard_D2_v9" in line
    assert not run.lines("the work failed"), "a configuration error, not failed work"
    wait_job_gone(batch, run.env["JOBID"])


def test_a_vm_size_shown_as_the_auto_pools_resize_error_exits_2_while_waiting(offloader, batch):
    set_account(batch, unofferedVmSize="resizeError")
    run = offloader.start(2, VMSIZE="Standard_D2_v9", KEEPBATCHJOB="true").expect(2, timeout=90)
    [line] = run.lines("Batch cannot allocate the auto pool's VM size Standard_D2_v9")
    assert "UnsupportedVMSize: Requested VM size is not supported" in line and "vm-size" in line, line
    job = batch.get_job(run.env["JOBID"])     # kept, but ended: nothing waits on unwatched
    assert job["state"] == "completed"
    assert job["executionInfo"]["terminateReason"] == "batch-offload: the pool cannot run the work"


# ----- a replacement pod -----

def test_a_replacement_pod_is_not_held_by_a_busy_pool(offloader, batch):
    # Its job exists: it re-attaches without asking for the pool, which answers nothing but 503.
    batch.create_pool("busy", containers=True)
    job_id = new_job_id("replacement")
    first = offloader.start(3, job_id=job_id, POOLID="busy", WORKERSPEC=spec(PROBE_SLEEP_SECONDS=2))
    first.wait_for_output(r"tasks submitted", timeout=60)
    first.kill()
    batch.control("POST", "faults", {"status": 503, "count": 100000, "operations": ["Pools_GetPool"]})
    gets_before = operation_count(batch, "Pools_GetPool")
    second = offloader.start(3, job_id=job_id, POOLID="busy", BATCH_OFFLOAD_RETRY_BUDGET_SECONDS=5)
    second.expect(0, timeout=90)
    assert second.lines("re-attached") and operation_count(batch, "Pools_GetPool") == gets_before


# ----- a pool that disappears while tasks wait -----

def test_a_pool_deleted_while_tasks_wait_exits_2_naming_it_and_ends_the_job(offloader, batch):
    batch.create_pool("render", containers=True)
    run = offloader.start(2, POOLID="render", WORKERSPEC=spec(PROBE_SLEEP_SECONDS=120))
    run.wait_for_output(r"2 running", timeout=60)
    batch.ok(202, "DELETE", "/pools/render")        # the running tasks go back to the queue
    run.expect(2, timeout=90)
    [line] = run.lines("was deleted while the job's tasks waited")
    assert "pool render of Batch account emulatoraccount" in line and "nothing can run them" in line, line
    assert run.lines("terminated the Batch job") and run.lines("deleted the Batch job"), run.stdout
    wait_job_gone(batch, run.env["JOBID"])
    assert not run.lines("the work failed")


# ----- Spot -----

@pytest.mark.parametrize("mode, spot, code, cause", [
    ("batchService", "noQuota", "AccountLowPriorityCoreQuotaReached", "the Batch account's Spot vCPU quota"),
    ("userSubscription", "noQuota", "AllocationFailed", "the subscription's regional Spot vCPU quota"),
    ("batchService", "noCapacity", "AllocationTimedout", "no Spot capacity for this VM size"),
])
def test_spot_nodes_that_cannot_be_had_are_explained_and_waited_for(offloader, batch, mode, spot, code, cause):
    set_account(batch, poolAllocationMode=mode, spot=spot)
    run = offloader.start(2)
    run.wait_for_output(r"Spot nodes cannot be allocated", timeout=60)
    [line] = run.lines("Spot nodes cannot be allocated")
    assert f"batch_says={code}" in line and cause in line, line
    assert "remedy=" in line and "dedicated" in line and "BATCH_OFFLOAD_SPOT_FALLBACK=wait" in line, line
    time.sleep(1)
    assert run.code is None, "the offloader gave up instead of waiting"
    set_account(batch, spot="available")
    run.expect(0, timeout=60)
    assert operation_count(batch, "Pools_EnablePoolAutoScale") == 0, "wait never switches"


def test_spot_fallback_gives_the_auto_pool_dedicated_nodes_after_the_timeout(offloader, batch):
    set_account(batch, spot="noQuota")
    run = offloader.start(3, BATCH_OFFLOAD_SPOT_FALLBACK="dedicated", BATCH_OFFLOAD_SPOT_FALLBACK_SECONDS=0)
    run.expect(0, timeout=90)
    assert "dedicated nodes after 0 s without Spot nodes" in "".join(run.lines("Spot nodes cannot be allocated"))
    [switched] = run.lines("now asks for up to")
    assert "no Spot nodes for 0 s: the auto pool offload_" in switched and "20 dedicated Standard_D2s_v3" in switched
    assert operation_count(batch, "Pools_EnablePoolAutoScale") == 1


def test_a_replacement_pod_sees_the_fallback_an_earlier_one_made(offloader, batch):
    set_account(batch, spot="noQuota")
    job_id = new_job_id("fallback")
    fallback = {"BATCH_OFFLOAD_SPOT_FALLBACK": "dedicated", "BATCH_OFFLOAD_SPOT_FALLBACK_SECONDS": 0}
    first = offloader.start(2, job_id=job_id, WORKERSPEC=spec(PROBE_SLEEP_SECONDS=20), **fallback)
    first.wait_for_output(r"now asks for up to", timeout=90)
    first.kill()
    second = offloader.start(2, job_id=job_id, WORKERSPEC=spec(PROBE_SLEEP_SECONDS=20), **fallback)
    second.expect(0, timeout=120)
    assert second.lines("re-attached") and not second.lines("Spot nodes cannot be allocated"), second.stdout
    assert operation_count(batch, "Pools_EnablePoolAutoScale") == 1


def test_the_fallback_waits_its_timeout(offloader, batch):
    set_account(batch, spot="noQuota")
    run = offloader.start(1, BATCH_OFFLOAD_SPOT_FALLBACK="dedicated", BATCH_OFFLOAD_SPOT_FALLBACK_SECONDS=3600)
    run.wait_for_output(r"Spot nodes cannot be allocated", timeout=60)
    assert "dedicated nodes after 3600 s without Spot nodes" in run.stdout
    time.sleep(1)
    assert run.code is None and operation_count(batch, "Pools_EnablePoolAutoScale") == 0
    run.kill()


# ----- the Events on the Job (a real kube-apiserver) -----

OFFLOADER_RULES = [
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "patch"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
]


@pytest.fixture
def in_cluster(control_plane, namespace, tmp_path):
    """An offloader pod's Kubernetes side: a suspended Job to report on, a ServiceAccount with the
    chart's offloader Role (docs/KUBERNETES.md), its token and the cluster's CA where a pod finds them."""
    name = f"offloader-{uuid.uuid4().hex[:8]}"
    control_plane.kubectl("create", "serviceaccount", name, "-n", namespace)
    control_plane.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                         "metadata": {"name": name}, "rules": OFFLOADER_RULES}, namespace=namespace)
    control_plane.kubectl("create", "rolebinding", name, f"--role={name}", f"--serviceaccount={namespace}:{name}",
                          "-n", namespace)
    control_plane.apply({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "render"},
                         "spec": {"suspend": True, "template": {"spec": {
                             "restartPolicy": "Never", "containers": [{"name": "w", "image": "busybox:1.36"}]}}}},
                        namespace=namespace)
    uid = control_plane.get("job", "render", namespace)["metadata"]["uid"]
    directory = tmp_path / "serviceaccount"
    directory.mkdir()
    (directory / "token").write_text(control_plane.kubectl("create", "token", name, "-n", namespace).stdout.strip())
    (directory / "ca.crt").write_bytes(control_plane.ca_file.read_bytes())
    return {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": control_plane.url.rsplit(":", 1)[1],
            "BATCH_OFFLOAD_SERVICEACCOUNT_DIR": str(directory), "BATCH_OFFLOAD_NAMESPACE": namespace,
            "BATCH_OFFLOAD_JOB_NAME": "render", "BATCH_OFFLOAD_JOB_UID": uid, "JOBID": f"k8s-{uid}"}


def events(control_plane, namespace):
    return {event["reason"]: event for event in control_plane.get("events", namespace=namespace)
            if event["involvedObject"].get("name") == "render"}


def test_a_missing_pool_is_an_event_on_the_job(offloader, batch, control_plane, namespace, in_cluster):
    offloader.start(2, POOLID="render-farm", **in_cluster).expect(2, timeout=60)
    event = events(control_plane, namespace)["BadConfiguration"]
    assert event["type"] == "Warning" and "pool render-farm does not exist in Batch account" in event["message"]
    assert event["involvedObject"]["uid"] == in_cluster["BATCH_OFFLOAD_JOB_UID"]


def test_spot_shortage_and_fallback_are_events_on_the_job(offloader, batch, control_plane, namespace, in_cluster):
    set_account(batch, spot="noQuota")
    offloader.start(2, BATCH_OFFLOAD_SPOT_FALLBACK="dedicated", BATCH_OFFLOAD_SPOT_FALLBACK_SECONDS=0,
                    **in_cluster).expect(0, timeout=90)
    seen = events(control_plane, namespace)
    unavailable = seen["SpotUnavailable"]["message"]
    assert unavailable.startswith("the auto pool offload_") and "gets no Spot nodes" in unavailable
    assert "the Batch account's Spot vCPU quota" in unavailable and "AccountLowPriorityCoreQuotaReached" in unavailable
    assert "Remedy: ask for a Spot (low-priority) vCPU quota increase" in unavailable, unavailable
    assert "now asks for up to 20 dedicated" in seen["SpotFallback"]["message"]
    assert "Completed" in seen


def test_a_deleted_pool_is_an_event_on_the_job(offloader, batch, control_plane, namespace, in_cluster):
    batch.create_pool("render", containers=True)
    run = offloader.start(2, POOLID="render", WORKERSPEC=spec(PROBE_SLEEP_SECONDS=120), **in_cluster)
    run.wait_for_output(r"2 running", timeout=60)
    batch.ok(202, "DELETE", "/pools/render")
    run.expect(2, timeout=90)
    wait_until(lambda: "PoolDeleted" in events(control_plane, namespace), timeout=10, what="the PoolDeleted Event")
    event = events(control_plane, namespace)["PoolDeleted"]
    assert event["type"] == "Warning" and "pool render of Batch account emulatoraccount was deleted" in event["message"]
