"""Work that fails: a worker or the aggregator exiting non-zero after its retries, retries that
rescue a flaky worker, a deadline that ends a slow job. The offloader exits 1, names the failed
task with its exit code and the end of its stderr.txt, stops what still runs, then cleans up."""
import json
import re

from offloader_process import (batch, job_status, list_tasks, offload_emulator, offloader,  # noqa: F401
                               offloader_binary, stats, wait_job_gone)


def spec(env, **fields):
    return json.dumps({**fields, "container": {"name": "worker", "env": [
        {"name": name, "value": str(value)} for name, value in env.items()]}})


def failure_lines(run, task_id):
    return [line for line in run.lines("task failed task=") if f"task={task_id} " in line]


def test_failing_worker_fails_the_run_and_stops_the_rest(offloader, batch):
    # 0-5 are still running when 9 fails: they must be stopped, and 9 named as the failure
    env = {"PROBE_FAIL_TASKS": "9", "PROBE_FAIL_CODE": 7, "PROBE_SLEEP_SECONDS": 60, "PROBE_SLEEP_TASKS": "0,1,2,3,4,5"}
    run = offloader.start(12, KEEPBATCHJOB="true", AGGREGATORIMAGENAME="probe:1",
                          WORKERSPEC=spec(env, backoffLimit=0)).expect(1, timeout=60)
    assert run.seconds < 45, "the sleeping workers were not stopped"
    job_id = run.env["JOBID"]
    lines = failure_lines(run, "9")
    assert lines and "exit_code=7" in lines[0], run.stdout
    out = run.stdout
    assert "probe-last-line task=9" in out          # the end of its stderr.txt ...
    assert "probe filler line 0000 " not in out      # ... only the end
    # a log line per stderr line, starting at the first whole one
    shown = out.split("end of stderr.txt of task 9 (earlier lines left out):\n", 1)[1].splitlines()
    shown = shown[:shown.index("batch-offloader: error: | probe-last-line task=9") + 1]
    assert len(shown) > 10 and all(re.fullmatch(r"batch-offloader: error: \| probe filler line \d{4} of task 9",
                                                 line) for line in shown[:-1]), shown
    assert "the work failed" in out
    job = batch.get_job(job_id)
    assert job["state"] == "completed" and job["executionInfo"]["terminateReason"] == "TaskFailed"
    tasks = {t["id"]: t for t in list_tasks(batch, job_id)}
    assert all(tasks[str(i)]["state"] == "completed" for i in range(6))
    # never ran (or, when 9 failed before it was added, never added: the job had ended)
    assert tasks.get("aggregator", {"state": "active"})["state"] == "active"
    assert "succeeded" not in "".join(run.lines("all tasks"))


def test_failing_worker_job_deleted_without_keep(offloader, batch):
    run = offloader.start(3, WORKERSPEC=spec({"PROBE_FAIL_TASKS": "0", "PROBE_STDERR_LINES": 3})).expect(1, 60)
    assert failure_lines(run, "0"), run.stdout
    operations = stats(batch)["operations"]
    assert operations.get("Jobs_DeleteJob") == 1
    wait_job_gone(batch, run.env["JOBID"])


def test_failing_aggregator(offloader, batch):
    env = {"PROBE_FAIL_TASKS": "aggregator", "PROBE_FAIL_CODE": 42}
    run = offloader.start(3, KEEPBATCHJOB="true", AGGREGATORIMAGENAME="probe:1", WORKERSPEC=spec(env)).expect(1, 60)
    lines = failure_lines(run, "aggregator")
    assert lines and "exit_code=42" in lines[0], run.stdout
    assert "probe-last-line task=aggregator" in run.stdout
    results = {t["id"]: t["executionInfo"]["result"] for t in list_tasks(batch, run.env["JOBID"])}
    assert results == {"0": "success", "1": "success", "2": "success", "aggregator": "failure"}


def test_backoff_limit_retries_a_flaky_worker(offloader, batch, tmp_path):
    env = {"PROBE_FAIL_TASKS": "1", "PROBE_FAIL_ONCE_DIR": tmp_path}
    run = offloader.start(3, KEEPBATCHJOB="true", WORKERSPEC=spec(env, backoffLimit=1)).expect(0, 60)
    retried = {t["id"]: t["executionInfo"]["retryCount"] for t in list_tasks(batch, run.env["JOBID"])}
    assert retried == {"0": 0, "1": 1, "2": 0}


def test_backoff_limit_zero_fails_the_flaky_worker(offloader, batch, tmp_path):
    env = {"PROBE_FAIL_TASKS": "1", "PROBE_FAIL_ONCE_DIR": tmp_path}
    run = offloader.start(3, WORKERSPEC=spec(env, backoffLimit=0)).expect(1, 60)
    assert failure_lines(run, "1") and "retries=0" in failure_lines(run, "1")[0], run.stdout


def test_backoff_limit_per_index_gives_each_task_its_retries(offloader, batch, tmp_path):
    env = {"PROBE_FAIL_TASKS": "0", "PROBE_FAIL_ONCE_DIR": tmp_path}
    run = offloader.start(2, KEEPBATCHJOB="true", WORKERSPEC=spec(env, backoffLimitPerIndex=1)).expect(0, 60)
    assert {t["id"]: t["constraints"]["maxTaskRetryCount"]
            for t in list_tasks(batch, run.env["JOBID"], select="id,constraints")} == \
        {"0": 1, "1": 1}


def test_active_deadline_ends_a_slow_job(offloader, batch):
    run = offloader.start(2, KEEPBATCHJOB="true", WORKERSPEC=spec({"PROBE_SLEEP_SECONDS": 120},
                                                                   activeDeadlineSeconds=3)).expect(1, 60)
    assert run.seconds < 40, run.stdout
    job = batch.get_job(run.env["JOBID"])
    assert job["executionInfo"]["terminateReason"] == "MaxWallClockTimeExpiry"
    assert "the work failed" in run.stdout
    assert "activeDeadlineSeconds" in run.stdout or "MaxWallClockTimeExpiry" in run.stdout, run.stdout


def test_active_deadline_with_tasks_still_waiting(offloader, batch):
    # more workers than the emulator has slots: some never start before the deadline
    run = offloader.start(12, WORKERSPEC=spec({"PROBE_SLEEP_SECONDS": 120}, activeDeadlineSeconds=3)).expect(1, 60)
    assert run.seconds < 40, run.stdout
    wait_job_gone(batch, run.env["JOBID"])


def test_active_deadline_while_nothing_could_start(offloader, batch):
    # a pool without nodes (its core quota is used up): the tasks wait until the job's deadline ends it
    batch.create_pool("starved", containers=True)
    batch.control("POST", "pool-capacity", {"resizeErrors": [
        {"code": "AccountCoreQuotaReached", "message": "The specified account has reached its core quota."}]})
    run = offloader.start(2, POOLID="starved", WORKERSPEC=spec({}, activeDeadlineSeconds=3))
    run.expect(1, 60)
    assert run.seconds < 30, run.stdout
    assert "activeDeadlineSeconds" in run.stdout, run.stdout


def test_an_image_the_nodes_cannot_pull(offloader, batch):
    # a pre-processing failure: not retried, no stderr.txt, the failure code says why
    run = offloader.start(2, WORKERIMAGENAME="no-such-image:1", WORKERSPEC=spec({}, backoffLimit=3)).expect(1, 60)
    lines = run.lines("task failed task=")  # not "1 task failed after its retries"
    assert lines and "ContainerInvalidImage" in lines[0] and "exit_code=none" in lines[0], run.stdout


def test_job_deleted_by_someone_else(offloader, batch, tmp_path):
    run = offloader.start(2, WORKERSPEC=spec({"PROBE_SLEEP_SECONDS": 120}))
    run.wait_for_output(r"[1-9]\d* running", timeout=60)
    batch.ok(202, "DELETE", f"/jobs/{run.env['JOBID']}")
    run.expect(1, 60)
    assert "deleted" in "".join(run.lines("the work failed")), run.stdout


def test_job_terminated_by_someone_else(offloader, batch):
    run = offloader.start(2, KEEPBATCHJOB="true", WORKERSPEC=spec({"PROBE_SLEEP_SECONDS": 120}))
    run.wait_for_output(r"[1-9]\d* running", timeout=60)
    batch.ok(202, "POST", f"/jobs/{run.env['JOBID']}/terminate", {"terminateReason": "operator said stop"})
    run.expect(1, 60)
    reason = "".join(run.lines("the work failed"))
    assert "operator said stop" in reason, run.stdout
