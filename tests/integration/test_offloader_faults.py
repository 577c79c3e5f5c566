"""Transient trouble on the way to Azure Batch, injected by the emulator: throttling with Retry-After,
server errors, dropped connections, slow answers, a task collection applied in part before the
connection died, preempted nodes. The offloader rides them out (exit 0, every task exactly once) and
gives up with exit 3 only past its retry budget, leaving the Batch job for the next attempt."""
import json

import pytest

from offloader_process import (batch, job_status, list_tasks, offload_emulator, offloader,  # noqa: F401
                               offloader_binary, stats, worker_ids)
from batch_emulator.testing import wait_until


def faults(batch, *rules):
    batch.control("POST", "faults", list(rules))


def assert_all_added_once(batch, job_id, completions, aggregator=True):
    seen = stats(batch)
    expected = worker_ids(completions) | ({"aggregator"} if aggregator else set())
    assert set(seen["taskAdds"][job_id]) == expected
    assert seen["maxTaskAdds"] == 1, seen
    return seen


def test_throttling_retry_after_is_honoured(offloader, batch):
    faults(batch, {"status": 429, "count": 3, "retryAfter": 2, "operations": ["Jobs_GetJob"]})
    run = offloader.start(2)
    submitted = run.wait_for_output(r"tasks submitted", timeout=60)
    assert submitted
    waited = run.seconds
    run.expect(0, timeout=60)
    assert stats(batch)["operations"]["Jobs_GetJob"] == 4
    assert waited >= 6.0, f"three Retry-After: 2 answers, but the job was read after {waited:.1f}s"
    assert waited < 15, f"asked to come back in 2s three times, it took {waited:.1f}s"


def test_throttled_task_collections(offloader, batch):
    faults(batch, {"status": 429, "count": 12, "retryAfter": 1, "operations": ["addtaskcollection"]})
    run = offloader.start(250, WORKERIMAGENAME="true:1", AGGREGATORIMAGENAME="true:1").expect(0, timeout=120)
    seen = assert_all_added_once(batch, run.env["JOBID"], 250)
    assert seen["operations"]["Tasks_CreateTaskCollection"] >= 12 + 4
    assert run.seconds < 30, run.stdout


def test_throttling_within_the_budget_is_ridden_out(offloader, batch):
    # "come back at once", thirteen times: no time at all, far inside a 120 s budget
    faults(batch, {"status": 429, "count": 13, "retryAfter": 0, "operations": ["taskcounts"]})
    offloader.start(1, BATCH_OFFLOAD_RETRY_BUDGET_SECONDS="120").expect(0, timeout=90)


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_storm(offloader, batch, status):
    faults(batch, {"status": status, "count": 5})
    run = offloader.start(5, AGGREGATORIMAGENAME="probe:1").expect(0, timeout=120)
    assert_all_added_once(batch, run.env["JOBID"], 5)
    assert stats(batch)["operations"]["Jobs_DeleteJob"] >= 1


def test_dropped_connections(offloader, batch):
    faults(batch, {"drop": 2, "operations": ["Jobs_CreateJob"]},
           {"drop": 3, "operations": ["addtaskcollection"]},
           {"drop": 2, "operations": ["Jobs_UpdateJob"]},
           {"drop": 3, "operations": ["taskcounts"]},
           {"drop": 1, "operations": ["Jobs_DeleteJob"]})
    run = offloader.start(150, WORKERIMAGENAME="true:1", AGGREGATORIMAGENAME="true:1").expect(0, timeout=120)
    seen = assert_all_added_once(batch, run.env["JOBID"], 150)
    assert seen["operations"]["Jobs_CreateJob"] == 3
    assert job_status(batch, run.env["JOBID"]) in (None, "deleting")


def test_slow_answers(offloader, batch):
    faults(batch, {"delay": 1, "count": 3})
    run = offloader.start(3, AGGREGATORIMAGENAME="probe:1").expect(0, timeout=120)
    assert_all_added_once(batch, run.env["JOBID"], 3)


def test_partial_task_collections_add_nothing_twice(offloader, batch):
    faults(batch, {"partial": 40, "count": 3})
    run = offloader.start(250, WORKERIMAGENAME="true:1", AGGREGATORIMAGENAME="true:1").expect(0, timeout=120)
    assert_all_added_once(batch, run.env["JOBID"], 250)
    line = run.lines("tasks submitted")[0]
    assert "already_there=" in line and "already_there=0" not in line, line


def test_partial_then_server_errors_on_the_retry(offloader, batch):
    faults(batch, {"partial": 10, "count": 1}, {"status": 500, "count": 2, "operations": ["addtaskcollection"]})
    run = offloader.start(30, WORKERIMAGENAME="true:1").expect(0, timeout=120)
    assert_all_added_once(batch, run.env["JOBID"], 30, aggregator=False)


def test_past_the_budget_exits_3_and_keeps_the_job(offloader, batch):
    faults(batch, {"status": 503, "count": 100000, "operations": ["taskcounts"]})
    run = offloader.start(2, BATCH_OFFLOAD_RETRY_BUDGET_SECONDS="3")
    run.expect(3, timeout=60)
    assert run.seconds < 30, run.stdout
    assert "ServerBusy" in run.stdout or "503" in run.stdout, run.stdout
    # the next pod re-attaches: the job must still be there
    assert job_status(batch, run.env["JOBID"]) in ("active", "completed")
    assert "Jobs_DeleteJob" not in stats(batch)["operations"]


def test_persistent_server_errors_from_the_start_exit_3(offloader, batch):
    faults(batch, {"status": 500, "count": 100000})
    run = offloader.start(2, BATCH_OFFLOAD_RETRY_BUDGET_SECONDS="2").expect(3, timeout=60)
    assert run.seconds < 30, run.stdout
    assert "Jobs_CreateJob" not in stats(batch)["operations"]


def test_preempted_tasks_run_again(offloader, batch, tmp_path):
    spec = json.dumps({"container": {"env": [{"name": "PROBE_SLEEP_SECONDS", "value": "3"},
                                             {"name": "PROBE_STARTED_DIR", "value": str(tmp_path)}]}})
    run = offloader.start(3, KEEPBATCHJOB="true", WORKERSPEC=spec)
    job_id = run.env["JOBID"]
    wait_until(lambda: len(list(tmp_path.iterdir())) >= 3, 60, "the workers to start")
    preempted = batch.control("POST", "preempt", {"jobId": job_id})["preempted"]
    assert preempted, "nothing was running to preempt"
    run.expect(0, timeout=120)
    starts = {}
    for marker in tmp_path.iterdir():
        task = marker.name.split(".")[1]
        starts[task] = starts.get(task, 0) + 1
    for entry in preempted:
        assert starts[entry["taskId"]] == 2, starts
    assert all(t["executionInfo"]["result"] == "success" for t in list_tasks(batch, job_id))


def test_a_pool_without_nodes_is_named_and_waited_for(offloader, batch):
    # a core quota or a spot shortage: the pool says so in resizeErrors, the tasks wait
    starved = {"code": "AccountCoreQuotaReached", "message": "The specified account has reached its core quota."}
    batch.control("POST", "pool-capacity", {"resizeErrors": [starved]})
    try:
        run = offloader.start(2)
        run.wait_for_output(r"waiting for nodes", timeout=60)
        line = "".join(run.lines("waiting for nodes"))
        assert "AccountCoreQuotaReached" in line and "core quota" in line, run.stdout
        assert run.code is None, "the offloader gave up instead of waiting"
    finally:
        batch.control("POST", "pool-capacity", {"resizeErrors": []})
    run.expect(0, timeout=60)


def test_tasks_the_service_could_not_add_go_again_after_a_pause(offloader, batch):
    # addtaskcollection answers 200, but some tasks come back "servererror": not added
    faults(batch, {"taskServerError": 100, "count": 3})
    run = offloader.start(5).expect(0, timeout=90)
    seen = stats(batch)
    assert seen["operations"]["Tasks_CreateTaskCollection"] == 4, seen
    assert set(seen["taskAdds"][run.env["JOBID"]]) == worker_ids(5) and seen["maxTaskAdds"] == 1
    assert run.seconds >= 0.5, "sent again without a pause"


def test_tasks_the_service_never_adds_end_in_exit_3(offloader, batch):
    faults(batch, {"taskServerError": 100, "count": 1000})
    run = offloader.start(3, BATCH_OFFLOAD_RETRY_BUDGET_SECONDS="3").expect(3, timeout=60)
    assert run.seconds < 30
    assert "ServerBusy" in run.stdout, run.stdout
    assert job_status(batch, run.env["JOBID"]) == "active", "the job is left for the next attempt"


def test_a_delete_whose_first_answer_was_lost_counts_as_done(offloader, batch):
    # the DELETE went through but its answer did not come back: the retry hears JobBeingDeleted
    faults(batch, {"status": 409, "code": "JobBeingDeleted", "operations": ["DeleteJob"]})
    run = offloader.start(1).expect(0, timeout=60)
    assert run.lines("deleted the Batch job") and not run.lines("could not delete"), run.stdout
