"""The offloader's life in a pod: killed outright (OOM, node loss) at any point and started again
with the same JOBID, it re-attaches and finishes the work without adding anything twice or losing
anything; stopped with SIGTERM or SIGINT (the Job deleted), it terminates the Batch job, deletes it
unless KEEPBATCHJOB=true, and exits 143 within seconds."""
import json
import signal
import time

import pytest

from offloader_process import (batch, job_status, list_tasks, offload_emulator, offloader,  # noqa: F401
                               offloader_binary, operation_count, stats, wait_job_gone, worker_ids)
from batch_emulator.testing import wait_until


def faults(batch, *rules):
    batch.control("POST", "faults", list(rules))


def tasks_added(batch, job_id):
    return len(stats(batch)["taskAdds"].get(job_id, {}))


def restart_and_finish(offloader, batch, first, completions, **extra):
    """Clears the faults, starts a second offloader on the same job and checks the work is whole."""
    batch.control("DELETE", "faults")
    job_id = first.env["JOBID"]
    second = offloader.start(completions, job_id=job_id, **extra).expect(0, timeout=180)
    assert second.lines("re-attached to the existing Batch job"), second.stdout
    seen = stats(batch)
    assert seen["operations"]["Jobs_CreateJob"] == 1, seen["operations"]
    assert seen["maxTaskAdds"] == 1, seen
    assert set(seen["taskAdds"][job_id]) == worker_ids(completions) | {"aggregator"}
    return second


def kill_when(run, probe, what, timeout=60):
    wait_until(probe, timeout, what, interval=0.02)
    run.kill()
    assert run.code == -signal.SIGKILL


def test_killed_right_after_creating_the_job(offloader, batch):
    faults(batch, {"delay": 3, "count": 40, "operations": ["addtaskcollection"]})
    first = offloader.start(300, WORKERIMAGENAME="true:1", AGGREGATORIMAGENAME="true:1")
    job_id = first.env["JOBID"]
    kill_when(first, lambda: operation_count(batch, "Tasks_CreateTaskCollection") >= 1, "the first collection")
    assert tasks_added(batch, job_id) == 0
    restart_and_finish(offloader, batch, first, 300, WORKERIMAGENAME="true:1", AGGREGATORIMAGENAME="true:1")


def test_killed_in_the_middle_of_submission(offloader, batch):
    # 1200 workers: the restart lists the tasks already there over two pages
    faults(batch, {"delay": 1, "count": 30, "operations": ["addtaskcollection"]})
    first = offloader.start(1200, WORKERIMAGENAME="true:1", AGGREGATORIMAGENAME="true:1")
    job_id = first.env["JOBID"]
    kill_when(first, lambda: tasks_added(batch, job_id) >= 100, "some tasks to be added")
    assert tasks_added(batch, job_id) < 1201
    second = restart_and_finish(offloader, batch, first, 1200, WORKERIMAGENAME="true:1",
                                AGGREGATORIMAGENAME="true:1")
    line = second.lines("tasks submitted")[0]
    assert "already_there=0" not in line, line


def test_killed_before_the_job_was_set_to_end(offloader, batch):
    # every task is in, but the PATCH to onAllTasksComplete=terminatejob never got through
    faults(batch, {"drop": 100000, "operations": ["Jobs_UpdateJob"]})
    first = offloader.start(5, AGGREGATORIMAGENAME="probe:1")
    job_id = first.env["JOBID"]
    kill_when(first, lambda: operation_count(batch, "Jobs_UpdateJob") >= 2, "the PATCH to be retried")
    assert tasks_added(batch, job_id) == 6
    assert batch.get_job(job_id)["onAllTasksComplete"] == "noaction"
    batch.control("POST", "stats/reset")
    batch.control("DELETE", "faults")
    second = offloader.start(5, job_id=job_id, AGGREGATORIMAGENAME="probe:1").expect(0, timeout=120)
    operations = stats(batch)["operations"]
    assert operations.get("Jobs_UpdateJob") == 1, operations
    assert "Tasks_CreateTaskCollection" not in operations, operations   # all there: nothing to add
    assert "added=0 already_there=6" in second.lines("tasks submitted")[0]


def test_killed_while_following_the_run(offloader, batch):
    spec = json.dumps({"container": {"env": [{"name": "PROBE_SLEEP_SECONDS", "value": "3"}]}})
    first = offloader.start(4, AGGREGATORIMAGENAME="probe:1", WORKERSPEC=spec)
    job_id = first.env["JOBID"]
    first.wait_for_output(r"\d+ running", timeout=60)
    first.kill()
    batch.control("POST", "stats/reset")
    second = offloader.start(4, job_id=job_id, AGGREGATORIMAGENAME="probe:1", WORKERSPEC=spec).expect(0, 120)
    operations = stats(batch)["operations"]
    assert "Tasks_CreateTaskCollection" not in operations and "Jobs_UpdateJob" not in operations, operations
    assert second.lines("all tasks succeeded"), second.stdout
    wait_job_gone(batch, job_id)


def test_a_replacement_waits_for_a_job_still_disabling_then_enables_it(offloader, batch):
    """A Job suspended and resumed at once: the replacement meets the Batch job still disabling (its
    running tasks finishing, disableTasks wait), where Batch refuses to enable it (409). It waits
    until the job is disabled, enables it, and the work completes."""
    spec = json.dumps({"container": {"env": [{"name": "PROBE_SLEEP_SECONDS", "value": "4"}]}})
    first = offloader.start(2, KEEPBATCHJOB="true", WORKERSPEC=spec)
    job_id = first.env["JOBID"]
    first.wait_for_output(r"[1-9]\d* running", timeout=60)
    first.kill()
    batch.ok(202, "POST", f"/jobs/{job_id}/disable", {"disableTasks": "wait"})
    assert job_status(batch, job_id) == "disabling"
    second = offloader.start(2, job_id=job_id, KEEPBATCHJOB="true", WORKERSPEC=spec).expect(0, 90)
    assert second.lines("enabled the Batch job"), second.stdout
    assert job_status(batch, job_id) == "completed"


def test_killed_twice_during_submission(offloader, batch):
    faults(batch, {"partial": 30, "count": 100000})
    first = offloader.start(400, WORKERIMAGENAME="true:1", AGGREGATORIMAGENAME="true:1")
    job_id = first.env["JOBID"]
    kill_when(first, lambda: tasks_added(batch, job_id) >= 60, "some tasks to be added")
    second = offloader.start(400, job_id=job_id, WORKERIMAGENAME="true:1", AGGREGATORIMAGENAME="true:1")
    before = tasks_added(batch, job_id)
    kill_when(second, lambda: tasks_added(batch, job_id) >= before + 60, "more tasks to be added")
    restart_and_finish(offloader, batch, first, 400, WORKERIMAGENAME="true:1", AGGREGATORIMAGENAME="true:1")


# ----- SIGTERM and SIGINT -----

def stop_and_check(run, batch, sig, keep=False):
    job_id = run.env["JOBID"]
    sent = time.monotonic()
    run.send_signal(sig)
    run.expect(143, timeout=60)
    took = run.ended - sent
    assert took < 10, f"exited {took:.1f}s after the signal"
    operations = stats(batch)["operations"]
    assert operations.get("Jobs_TerminateJob", 0) >= 1, operations
    assert run.lines("terminat"), run.stdout
    if keep:
        assert "Jobs_DeleteJob" not in operations, operations
        assert job_status(batch, job_id) == "completed"
    else:
        assert operations.get("Jobs_DeleteJob", 0) >= 1, operations
        wait_job_gone(batch, job_id)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_during_submission(offloader, batch, sig):
    faults(batch, {"delay": 2, "count": 1000, "operations": ["addtaskcollection"]})
    run = offloader.start(1000, WORKERIMAGENAME="true:1", AGGREGATORIMAGENAME="true:1")
    wait_until(lambda: operation_count(batch, "Tasks_CreateTaskCollection") >= 1, 60, "submission to start")
    stop_and_check(run, batch, sig)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_during_the_run(offloader, batch, sig, tmp_path):
    spec = json.dumps({"container": {"env": [{"name": "PROBE_SLEEP_SECONDS", "value": "120"},
                                             {"name": "PROBE_STARTED_DIR", "value": str(tmp_path)}]}})
    run = offloader.start(3, WORKERSPEC=spec, AGGREGATORIMAGENAME="probe:1")
    run.wait_for_output(r"\d+ running", timeout=60)
    stop_and_check(run, batch, sig)


def test_sigterm_with_keep_batch_job_terminates_but_keeps(offloader, batch):
    spec = json.dumps({"container": {"env": [{"name": "PROBE_SLEEP_SECONDS", "value": "120"}]}})
    run = offloader.start(2, WORKERSPEC=spec, KEEPBATCHJOB="true")
    run.wait_for_output(r"[1-9]\d* running", timeout=60)
    stop_and_check(run, batch, signal.SIGTERM, keep=True)
    tasks = list_tasks(batch, run.env["JOBID"])
    assert all(t["state"] == "completed" and t["executionInfo"]["result"] == "failure" for t in tasks), tasks


@pytest.mark.parametrize("fault", [
    {"delay": 3, "count": 1, "operations": ["Jobs_GetJob"]},                      # no answer yet
    {"status": 429, "count": 5, "retryAfter": 60, "operations": ["Jobs_GetJob"]},  # told to wait a minute
], ids=["before-any-answer", "while-throttled"])
def test_sigterm_while_the_first_request_waits(offloader, batch, fault):
    faults(batch, fault)
    run = offloader.start(2)
    wait_until(lambda: operation_count(batch, "Jobs_GetJob") >= 1, 30, "the first request")
    sent = time.monotonic()
    run.send_signal(signal.SIGTERM)
    run.expect(143, timeout=60)
    assert run.ended - sent < 10
