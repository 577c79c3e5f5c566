"""`batch-offloader gc` (docs/KUBERNETES.md, "Collecting what was left behind") against the Batch
emulator and a real kube-apiserver, as the chart's CronJob runs it: in-cluster configuration, the
token of a ServiceAccount that may only get and list Jobs. Batch jobs whose Kubernetes Job is gone
or is another Job of the same name are terminated and deleted; a Job's result older than the
retention deletes its Batch job; everything else (a live Job, a job without batch-offload's
metadata, a job gc could not ask about) is left as it was. Needs BATCH_OFFLOAD_KUBE_ASSETS."""
import json
import time
import uuid
from pathlib import Path

import pytest

from offloader_process import batch, offload_emulator, offloader, offloader_binary, job_status  # noqa: F401
from batch_emulator.testing import ACCOUNT, KEY

MADE_BY = {"batch-offload.io/created-by": "batch-offload"}


@pytest.fixture
def gc_account(control_plane, namespace, tmp_path):
    """The in-cluster environment of a gc pod: a ServiceAccount bound to a ClusterRole that gets
    and lists Jobs (what the chart grants), its token and the cluster's CA where a pod finds them."""
    name = f"gc-{uuid.uuid4().hex[:8]}"
    control_plane.kubectl("create", "serviceaccount", name, "-n", namespace)
    control_plane.kubectl("create", "clusterrole", name, "--verb=get,list", "--resource=jobs.batch")
    control_plane.kubectl("create", "clusterrolebinding", name, f"--clusterrole={name}",
                          f"--serviceaccount={namespace}:{name}")
    token = control_plane.kubectl("create", "token", name, "-n", namespace).stdout.strip()
    directory = tmp_path / "serviceaccount"
    directory.mkdir()
    (directory / "token").write_text(token)
    (directory / "ca.crt").write_bytes(control_plane.ca_file.read_bytes())
    port = control_plane.url.rsplit(":", 1)[1]
    yield {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": port,
           "BATCH_OFFLOAD_SERVICEACCOUNT_DIR": str(directory)}
    control_plane.kubectl("delete", "clusterrolebinding", name)
    control_plane.kubectl("delete", "clusterrole", name)


def gc_env(emulator, cluster, **extra):
    """Only what gc reads: the account and the cluster (no JOBID, no work)."""
    return {"BATCHCONNECTIONSTRING": emulator.url, "BATCHNAME": ACCOUNT, "BATCHPASSWORD": KEY,
            "BATCH_OFFLOAD_RETRY_BUDGET_SECONDS": "5", **cluster, **extra}


def suspended_job(name, result=None) -> dict:
    """A suspended Job (no pods wanted), with a recorded result annotation when given."""
    annotations = {"batch-offload.io/result": json.dumps(result)} if result else {}
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"suspend": True, "template": {"spec": {
                "restartPolicy": "Never", "containers": [{"name": "work", "image": "busybox:1.36"}]}}}}


def kubernetes_job(control_plane, namespace, name, result=None) -> dict:
    control_plane.apply(suspended_job(name, result), namespace=namespace)
    return control_plane.get("job", name, namespace)


def batch_job_for(batch, job_id, namespace, name, uid, extra_metadata=None):
    """A Batch job as the offloader makes it for that Job: its metadata names the Job."""
    metadata = {**MADE_BY, "batch-offload.io/namespace": namespace, "batch-offload.io/job-name": name,
                "batch-offload.io/job-uid": uid, **(extra_metadata or {})}
    batch.create_job(job_id, metadata=[{"name": k, "value": v} for k, v in metadata.items()])


def recorded(hours_ago: float) -> dict:
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - hours_ago * 3600))
    return {"outcome": "succeeded", "exitCode": 0, "recordedAt": when}


def run_gc(offloader, cluster, *args):
    return offloader.run(args=("gc", *args), env=gc_env(offloader.emulator, cluster), timeout=60)


def test_gc_deletes_what_only_a_gone_job_left(control_plane, namespace, gc_account, batch, offloader):
    live = kubernetes_job(control_plane, namespace, "live")
    recreated = kubernetes_job(control_plane, namespace, "recreated")
    batch_job_for(batch, "bo-live", namespace, "live", live["metadata"]["uid"])
    batch_job_for(batch, "bo-gone", namespace, "deleted-long-ago", str(uuid.uuid4()))
    batch_job_for(batch, "bo-earlier", namespace, "recreated", str(uuid.uuid4()))  # another Job's UID
    batch.create_job("someone-elses")  # no batch-offload metadata at all
    batch.create_job("claims-a-job", metadata=[{"name": "batch-offload.io/namespace", "value": namespace},
                                               {"name": "batch-offload.io/job-name", "value": "gone"}])

    gc = run_gc(offloader, gc_account)
    gc.check_clean()
    assert gc.code == 0, gc.output
    assert job_status(batch, "bo-gone") is None
    assert job_status(batch, "bo-earlier") is None
    assert job_status(batch, "bo-live") == "active"
    assert job_status(batch, "someone-elses") == "active"
    assert job_status(batch, "claims-a-job") == "active"
    deleted = gc.lines("deleted the Batch job")
    assert len(deleted) == 2 and all("its Kubernetes Job is gone" in line for line in deleted), gc.stdout
    assert any(f"kubernetes_job={namespace}/deleted-long-ago" in line for line in deleted), gc.stdout
    assert "batch_offload_jobs=3 deleted=2 left=1 unanswered=0 failed=0" in gc.stdout
    assert recreated["metadata"]["uid"] not in gc.stdout


def test_gc_terminates_an_orphan_before_deleting_it(control_plane, namespace, gc_account, batch, offloader):
    batch_job_for(batch, "bo-orphan", namespace, "gone", str(uuid.uuid4()))
    gc = run_gc(offloader, gc_account)
    gc.check_clean()
    assert gc.code == 0, gc.output
    operations = batch.control("GET", "stats")["operations"]
    assert operations.get("Jobs_TerminateJob") == 1 and operations.get("Jobs_DeleteJob") == 1, operations


def test_a_result_older_than_the_retention_deletes_its_batch_job(control_plane, namespace, gc_account,
                                                                 batch, offloader):
    old = kubernetes_job(control_plane, namespace, "old", result=recorded(hours_ago=30))
    recent = kubernetes_job(control_plane, namespace, "recent", result=recorded(hours_ago=2))
    batch_job_for(batch, "bo-old", namespace, "old", old["metadata"]["uid"])
    batch_job_for(batch, "bo-recent", namespace, "recent", recent["metadata"]["uid"])

    gc = run_gc(offloader, gc_account)  # the default retention: 24 hours
    assert gc.code == 0, gc.output
    assert job_status(batch, "bo-old") is None
    assert job_status(batch, "bo-recent") == "active"
    assert "its Kubernetes Job finished past the retention" in gc.stdout
    assert job_status(batch, "bo-recent") == "active"
    operations = batch.control("GET", "stats")["operations"]
    assert "Jobs_TerminateJob" not in operations, "a finished Job's Batch job is deleted, not terminated"

    gc = run_gc(offloader, gc_account, "--retention-hours", "1")
    assert gc.code == 0, gc.output
    assert job_status(batch, "bo-recent") is None
    # the Jobs themselves are Kubernetes's to keep or delete
    assert control_plane.get("job", "old", namespace)["metadata"]["uid"] == old["metadata"]["uid"]


def test_dry_run_changes_nothing(control_plane, namespace, gc_account, batch, offloader):
    batch_job_for(batch, "bo-gone", namespace, "gone", str(uuid.uuid4()))
    gc = run_gc(offloader, gc_account, "--dry-run")
    assert gc.code == 0, gc.output
    assert job_status(batch, "bo-gone") == "active"
    assert gc.lines("would delete the Batch job (dry run)")
    assert "nothing was changed" in gc.stdout and "would_delete=1" in gc.stdout
    operations = batch.control("GET", "stats")["operations"]
    assert not {"Jobs_TerminateJob", "Jobs_DeleteJob"} & set(operations), operations


def test_without_access_to_jobs_gc_leaves_everything_and_says_so(control_plane, namespace, gc_account, batch,
                                                                 offloader):
    batch_job_for(batch, "bo-gone", namespace, "gone", str(uuid.uuid4()))
    # the token of a ServiceAccount without the ClusterRole: every read is refused (403)
    refused = f"gc-refused-{uuid.uuid4().hex[:6]}"
    control_plane.kubectl("create", "serviceaccount", refused, "-n", namespace)
    token = control_plane.kubectl("create", "token", refused, "-n", namespace).stdout.strip()
    (Path(gc_account["BATCH_OFFLOAD_SERVICEACCOUNT_DIR"]) / "token").write_text(token)
    gc = run_gc(offloader, gc_account)
    gc.check_clean(secrets=(KEY, token))
    assert gc.code == 3, gc.output
    assert job_status(batch, "bo-gone") == "active"
    assert "403" in gc.output and "unanswered=1" in gc.stdout


def test_an_unreachable_api_server_leaves_everything(namespace, gc_account, batch, offloader):
    batch_job_for(batch, "bo-gone", namespace, "gone", str(uuid.uuid4()))
    cluster = {**gc_account, "KUBERNETES_SERVICE_PORT": "9"}  # nothing listens there
    gc = run_gc(offloader, cluster)
    assert gc.code == 3, gc.output
    assert job_status(batch, "bo-gone") == "active"


def test_an_unreachable_batch_account_exits_3(gc_account, offloader):
    env = {**gc_env(offloader.emulator, gc_account), "BATCHCONNECTIONSTRING": "http://127.0.0.1:9"}
    gc = offloader.run(args=("gc",), env=env, timeout=60)
    assert gc.code == 3, gc.output
    assert "cannot list the Batch account's jobs" in gc.stdout


def test_gc_reads_every_page(control_plane, namespace, gc_account, batch, offloader):
    """Past the first page (1,000 jobs): the orphan made last is on the second."""
    live = kubernetes_job(control_plane, namespace, "live")
    for i in range(1000):
        batch_job_for(batch, f"bo-live-{i:04d}", namespace, "live", live["metadata"]["uid"])
    batch_job_for(batch, "bo-last-orphan", namespace, "gone", str(uuid.uuid4()))
    gc = run_gc(offloader, gc_account)
    assert gc.code == 0, gc.output
    assert job_status(batch, "bo-last-orphan") is None
    assert "batch_offload_jobs=1001 deleted=1 left=1000" in gc.stdout


def test_gc_reads_every_page_of_a_namespaces_jobs(control_plane, namespace, gc_account, batch, offloader):
    """Past the API server's first page of Jobs (KUBE_JOB_LIST_PAGE, 100): a live Job listed on a
    later page is not taken for a gone one."""
    names = [f"live-{i:03d}" for i in range(130)]
    control_plane.apply({"apiVersion": "v1", "kind": "List",
                         "items": [suspended_job(name) for name in names]}, namespace=namespace)
    uids = {job["metadata"]["name"]: job["metadata"]["uid"]
            for job in control_plane.get("jobs", namespace=namespace)}
    for name in names:
        batch_job_for(batch, f"bo-{name}", namespace, name, uids[name])
    batch_job_for(batch, "bo-gone", namespace, "gone", str(uuid.uuid4()))
    gc = run_gc(offloader, gc_account)
    assert gc.code == 0, gc.output
    assert "batch_offload_jobs=131 deleted=1 left=130" in gc.stdout
    assert job_status(batch, "bo-gone") is None
    assert job_status(batch, "bo-live-129") == "active"


def test_gc_needs_a_cluster_and_only_the_account(offloader):
    outside = offloader.run(args=("gc",), env=gc_env(offloader.emulator, {}), timeout=30)
    assert outside.code == 2
    assert "run it in the cluster" in outside.output
    bad = offloader.run(args=("gc", "--retention-hours", "0"), env=gc_env(offloader.emulator, {}), timeout=30)
    assert bad.code == 2 and "--retention-hours" in bad.output
