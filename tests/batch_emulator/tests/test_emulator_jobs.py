# Jobs as the offloader's SIGTERM handling and gc mode use them: disable and enable with each disableTasks
# option, the states and counts they go through and the refusals (Jobs_DisableJob, Jobs_EnableJob), job
# metadata, and listing the account's jobs with $filter, $select and paging.
import time

import pytest

from batch_emulator.testing import batch, emulator, wait_until  # noqa: F401 (pytest fixtures)
from test_emulator_execution import counted_attempt, python_command


def _job_with_running_task(batch, tmp_path, job_id="job", **job_fields):
    """A job whose task "t" is running a 60 s sleep and counts its starts in tmp_path/starts."""
    starts = tmp_path / "starts"
    sleeper = counted_attempt(starts, "time.sleep(60)")
    batch.create_pool("pool")
    batch.create_job(job_id, **job_fields)
    batch.add_task(job_id, {"id": "t", "commandLine": sleeper, "constraints": {"maxTaskRetryCount": 3}})
    wait_until(lambda: starts.exists() and starts.read_text() == "1")
    return starts


def _disable(batch, job_id, option):
    reply = batch.ok(202, "POST", f"/jobs/{job_id}/disable", {"disableTasks": option})
    assert reply.body == b"" and reply.headers["etag"]
    return reply


def test_disable_requeue_stops_running_tasks_and_requeues_them_without_a_retry(batch, tmp_path):
    # Spec, DisableBatchJobOption requeue: "Terminate running Tasks and requeue them. The Tasks will run
    # again when the Job is enabled."
    starts = _job_with_running_task(batch, tmp_path)
    _disable(batch, "job", "requeue")
    assert batch.get_job("job")["state"] in ("disabling", "disabled")
    job = batch.wait_job_state("job", "disabled")
    assert job["previousState"] == "disabling"
    task = wait_until(lambda: (lambda t: t if t["state"] == "active" else None)(batch.get_task("job", "t")))
    assert task["executionInfo"]["retryCount"] == 0 and task["executionInfo"]["requeueCount"] == 1
    assert task["executionInfo"]["lastRequeueTime"]
    assert batch.task_counts("job") == {"active": 1, "running": 0, "completed": 0, "succeeded": 0, "failed": 0}
    time.sleep(0.3)     # a disabled job starts no task: proving a negative needs a moment
    assert starts.read_text() == "1" and batch.get_task("job", "t")["state"] == "active"
    batch.ok(202, "POST", "/jobs/job/enable")
    assert batch.get_job("job")["state"] in ("enabling", "active")
    job = batch.wait_job_state("job", "active")
    assert job["previousState"] == "enabling"
    wait_until(lambda: starts.read_text() == "2")
    assert batch.get_task("job", "t")["executionInfo"]["retryCount"] == 0


def test_disable_terminate_completes_running_tasks_as_ended(batch, tmp_path):
    # Spec, DisableBatchJobOption terminate: "Terminate running Tasks. The Tasks will be completed with
    # failureInfo indicating that they were terminated, and will not run again."
    _job_with_running_task(batch, tmp_path)
    _disable(batch, "job", "terminate")
    batch.wait_job_state("job", "disabled")
    execution = batch.wait_task_completed("job", "t")["executionInfo"]
    assert execution["result"] == "failure" and execution["failureInfo"]["code"] == "TaskEnded"
    assert execution["retryCount"] == 0 and execution["requeueCount"] == 0
    assert batch.task_counts("job") == {"active": 0, "running": 0, "completed": 1, "succeeded": 0, "failed": 1}


def test_disable_wait_lets_running_tasks_finish_and_starts_no_other(batch):
    # Spec, DisableBatchJobOption wait: "Allow currently running Tasks to complete."; Jobs_DisableJob: "The
    # Job remains in the disabling state until ... all Tasks have been dealt with".
    batch.create_pool("pool")
    batch.create_job("job", maxParallelTasks=1)
    batch.add_tasks("job", [{"id": "first", "commandLine": python_command("import time; time.sleep(1)")},
                            {"id": "second", "commandLine": "/bin/true"}])
    wait_until(lambda: batch.get_task("job", "first")["state"] == "running")
    _disable(batch, "job", "wait")
    assert batch.get_job("job")["state"] == "disabling"
    assert batch.wait_task_completed("job", "first")["executionInfo"]["result"] == "success"
    batch.wait_job_state("job", "disabled")
    assert batch.get_task("job", "second")["state"] == "active"
    batch.ok(202, "POST", "/jobs/job/enable")
    assert batch.wait_task_completed("job", "second")["executionInfo"]["result"] == "success"


def test_a_failing_task_of_a_disabling_job_keeps_its_retries(batch, tmp_path):
    fail_once = counted_attempt(tmp_path / "attempts", "time.sleep(0.5); sys.exit(1 if n == 1 else 0)")
    batch.create_pool("pool")
    batch.create_job("job")
    batch.add_task("job", {"id": "t", "commandLine": fail_once, "constraints": {"maxTaskRetryCount": 1}})
    wait_until(lambda: batch.get_task("job", "t")["state"] == "running")
    _disable(batch, "job", "wait")
    batch.wait_job_state("job", "disabled")
    task = batch.get_task("job", "t")
    assert task["state"] == "active" and task["executionInfo"]["retryCount"] == 1
    batch.ok(202, "POST", "/jobs/job/enable")
    assert batch.wait_task_completed("job", "t")["executionInfo"]["result"] == "success"


def test_disable_is_accepted_again_while_disabled_and_refused_once_the_job_ended(batch):
    # Spec, Jobs_DisableJob: "If you try to disable a Job that is in any state other than active,
    # disabling, or disabled, the request fails with status code 409."
    batch.create_job("job", pool_id="absent")
    _disable(batch, "job", "requeue")
    batch.wait_job_state("job", "disabled")
    _disable(batch, "job", "terminate")
    assert batch.get_job("job")["state"] == "disabled"
    batch.ok(202, "POST", "/jobs/job/terminate")
    job = batch.wait_job_state("job", "completed")
    assert job["previousState"] == "terminating" and job["executionInfo"]["terminateReason"] == "UserTerminate"
    for path, body in (("/jobs/job/disable", {"disableTasks": "wait"}), ("/jobs/job/enable", None)):
        reply = batch.request("POST", path, body)
        assert reply.status == 409 and reply.error_code == "JobCompleted", reply
    assert batch.request("POST", "/jobs/none/disable", {"disableTasks": "wait"}).error_code == "JobNotFound"


def test_enable_refuses_a_job_that_is_not_disabled(batch):
    batch.create_job("job", pool_id="absent")
    reply = batch.request("POST", "/jobs/job/enable")
    assert reply.status == 409 and reply.error_code == "OperationInvalidForCurrentState"
    assert batch.request("POST", "/jobs/none/enable").error_code == "JobNotFound"


@pytest.mark.parametrize("body, code", [({}, "MissingRequiredProperty"),
                                        ({"disableTasks": "Requeue"}, "InvalidPropertyValue")])
def test_disable_options_are_checked_against_the_spec(batch, body, code):
    batch.create_job("job", pool_id="absent")
    reply = batch.request("POST", "/jobs/job/disable", body)
    assert reply.status == 400 and reply.error_code == code
    assert batch.get_job("job")["state"] == "active"


def test_a_disabled_job_takes_new_tasks_and_runs_them_once_enabled(batch):
    batch.create_pool("pool")
    batch.create_job("job")
    _disable(batch, "job", "wait")
    batch.wait_job_state("job", "disabled")
    batch.add_tasks("job", [{"id": str(i), "commandLine": "/bin/true"} for i in range(3)])
    time.sleep(0.3)
    assert batch.task_counts("job")["active"] == 3
    batch.ok(202, "POST", "/jobs/job/enable")
    wait_until(lambda: batch.task_counts("job")["succeeded"] == 3)


def test_deleting_a_disabled_job(batch, tmp_path):
    _job_with_running_task(batch, tmp_path)
    _disable(batch, "job", "requeue")
    batch.wait_job_state("job", "disabled")
    batch.ok(202, "DELETE", "/jobs/job")
    wait_until(lambda: batch.request("GET", "/jobs/job").status == 404)


def test_job_action_disable_disables_the_job_with_requeue(batch, tmp_path):
    # Spec, BatchJobActionKind disable: "Disable the Job. This is equivalent to calling the disable Job API,
    # with a disableTasks value of requeue."
    starts = _job_with_running_task(batch, tmp_path, onTaskFailure="performexitoptionsjobaction")
    batch.add_task("job", {"id": "bad", "commandLine": "/bin/false",
                           "exitConditions": {"default": {"jobAction": "disable"}}})
    batch.wait_job_state("job", "disabled")
    task = wait_until(lambda: (lambda t: t if t["state"] == "active" else None)(batch.get_task("job", "t")))
    assert task["executionInfo"]["requeueCount"] == 1 and starts.read_text() == "1"


# ----- metadata and listing the account's jobs -----

OWNER = [{"name": "batch-offload.io/namespace", "value": "team-a"},
         {"name": "batch-offload.io/job-name", "value": "wordcount"},
         {"name": "batch-offload.io/job-uid", "value": "4f6c1c1e-2f0b-4d5e-9b7a-1f2e3d4c5b6a"}]


def test_metadata_is_stored_returned_and_replaced_by_patch(batch):
    # Spec, BatchJobUpdateOptions.metadata: "If omitted, the existing Job metadata is left unchanged."
    batch.create_job("job", pool_id="absent", metadata=OWNER)
    assert batch.get_job("job")["metadata"] == OWNER
    batch.ok(200, "PATCH", "/jobs/job", {"priority": 5})
    assert batch.get_job("job")["metadata"] == OWNER
    batch.ok(200, "PATCH", "/jobs/job", {"metadata": OWNER[:1]})
    assert batch.get_job("job")["metadata"] == OWNER[:1]
    listed = batch.ok(200, "GET", "/jobs", query={"$select": "id,metadata"}).json["value"]
    assert listed == [{"id": "job", "metadata": OWNER[:1]}]


def test_metadata_items_need_a_name_and_a_value(batch):
    missing = batch.request("POST", "/jobs", {"id": "job", "poolInfo": {"poolId": "p"}, "metadata": [{"name": "x"}]})
    assert missing.status == 400 and missing.error_code == "MissingRequiredProperty"
    empty = batch.request("POST", "/jobs", {"id": "job", "poolInfo": {"poolId": "p"},
                                            "metadata": [{"name": "", "value": "v"}]})
    assert empty.status == 400 and empty.error_code == "EmptyMetadataKey"
    assert batch.request("GET", "/jobs/job").status == 404


def test_list_jobs_pages_through_the_whole_account_with_select_and_filter(batch):
    for i in range(25):
        batch.create_job(f"job-{i:02d}", pool_id="absent", metadata=[{"name": "n", "value": str(i)}])
    batch.ok(202, "POST", "/jobs/job-03/terminate")
    batch.wait_job_state("job-03", "completed")
    select = "id,state,metadata,creationTime,stateTransitionTime,executionInfo"
    page = batch.ok(200, "GET", "/jobs", query={"$select": select, "maxresults": "10"}).json
    assert page["odata.metadata"] == f"{batch.url}/$metadata#jobs"
    seen = page["value"]
    while "odata.nextLink" in page:
        page = batch.follow(page["odata.nextLink"]).json
        seen += page["value"]
    assert [job["id"] for job in seen] == [f"job-{i:02d}" for i in range(25)]
    assert all(set(job) == set(select.split(",")) for job in seen)
    assert seen[7]["metadata"] == [{"name": "n", "value": "7"}] and seen[7]["executionInfo"]["poolId"] == "absent"
    completed = batch.ok(200, "GET", "/jobs", query={"$filter": "state eq 'completed'"}).json["value"]
    assert [job["id"] for job in completed] == ["job-03"]
    live = batch.ok(200, "GET", "/jobs", query={"$filter": "state ne 'completed' and startswith(id, 'job-1')"})
    assert len(live.json["value"]) == 10


@pytest.mark.parametrize("expression", ["metadata eq 'x'", "priority eq 0", "state gt 'active'",
                                        "startswith(state, 'a')"])
def test_list_jobs_refuses_filters_the_service_does_not_allow(batch, expression):
    # odata-filters-in-batch, List jobs: id, state (eq, ne), times and executionInfo/poolId only.
    reply = batch.request("GET", "/jobs", query={"$filter": expression})
    assert reply.status == 400 and reply.error_code == "InvalidQueryParameterValue"
    assert {"key": "QueryParameterName", "value": "$filter"} in reply.json["values"]
