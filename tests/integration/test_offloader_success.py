"""batch-offloader against the Batch emulator: runs that succeed. Every task is added exactly once,
the aggregator last and after every worker, in few collection requests; the Batch job is deleted at
the end unless KEEPBATCHJOB=true; a restarted offloader reports a finished job without adding
anything; --dry-run sends nothing; --help, --version and unknown options."""
import math

import pytest

from offloader_process import (batch, job_status, list_tasks, offload_emulator, offloader,  # noqa: F401
                               offloader_binary, stats, wait_job_gone, worker_ids, OffloaderProcess,
                               REGISTRY_PASSWORD, SECRET_ENV_VALUE, ALL_SECRETS)


@pytest.mark.parametrize("completions", [1, 7, 250])
def test_all_tasks_succeed_each_added_once(offloader, batch, completions):
    image = "true:1" if completions > 10 else "probe:1"
    run = offloader.start(completions, WORKERIMAGENAME=image, AGGREGATORIMAGENAME="probe:1")
    run.expect(0, timeout=180)
    job_id = run.env["JOBID"]
    seen = stats(batch)
    adds = seen["taskAdds"][job_id]
    assert set(adds) == worker_ids(completions) | {"aggregator"}
    assert seen["maxTaskAdds"] == 1
    assert seen["operations"]["Jobs_CreateJob"] == 1
    collections = seen["operations"]["Tasks_CreateTaskCollection"]
    assert collections <= math.ceil((completions + 1) / 100) + 1, seen
    assert seen["operations"]["Jobs_UpdateJob"] == 1           # onAllTasksComplete=terminatejob
    assert seen["operations"]["Jobs_DeleteJob"] == 1
    wait_job_gone(batch, job_id)
    assert run.lines("all tasks succeeded"), run.stdout
    assert any(f"added={completions + 1}" in line for line in run.lines("tasks submitted")), run.stdout
    assert any(f"{completions + 1} of {completions + 1} tasks succeeded" in line
               for line in run.lines("tasks succeeded")), run.stdout


def test_without_aggregator_only_workers(offloader, batch):
    run = offloader.start(3).expect(0)
    assert set(stats(batch)["taskAdds"][run.env["JOBID"]]) == worker_ids(3)


def test_keep_batch_job_leaves_the_completed_job(offloader, batch):
    run = offloader.start(4, AGGREGATORIMAGENAME="probe:1", KEEPBATCHJOB="true").expect(0)
    job_id = run.env["JOBID"]
    assert "Jobs_DeleteJob" not in stats(batch)["operations"]
    assert job_status(batch, job_id) == "completed"
    tasks = list_tasks(batch, job_id)
    assert {t["id"] for t in tasks} == worker_ids(4) | {"aggregator"}
    assert all(t["executionInfo"]["result"] == "success" for t in tasks)
    # the aggregator ran after every worker had ended
    ended = max(t["executionInfo"]["endTime"] for t in tasks if t["id"] != "aggregator")
    aggregator = next(t for t in tasks if t["id"] == "aggregator")
    assert aggregator["executionInfo"]["startTime"] >= ended
    assert batch.get_job(job_id)["executionInfo"]["terminateReason"] == "AllTasksComplete"
    assert run.lines("keeping the Batch job"), run.stdout


def test_restart_after_success_reports_without_adding(offloader, batch):
    first = offloader.start(3, AGGREGATORIMAGENAME="probe:1", KEEPBATCHJOB="true").expect(0)
    job_id = first.env["JOBID"]
    batch.control("POST", "stats/reset")
    again = offloader.start(3, job_id=job_id, AGGREGATORIMAGENAME="probe:1", KEEPBATCHJOB="true").expect(0, timeout=60)
    operations = stats(batch)["operations"]
    assert "Tasks_CreateTaskCollection" not in operations and "Jobs_CreateJob" not in operations, operations
    assert "Jobs_UpdateJob" not in operations, operations
    assert again.lines("re-attached to the existing Batch job"), again.stdout
    assert again.lines("all tasks succeeded"), again.stdout
    # and a last run without KEEPBATCHJOB cleans up
    offloader.start(3, job_id=job_id, AGGREGATORIMAGENAME="probe:1").expect(0, timeout=60)
    wait_job_gone(batch, job_id)


def test_restart_after_failure_reports_the_failure(offloader, batch):
    first = offloader.start(2, KEEPBATCHJOB="true", WORKERSPEC='{"backoffLimit":0,"container":{"env":['
                            '{"name":"PROBE_FAIL_TASKS","value":"1"},{"name":"PROBE_STDERR_LINES","value":"1"}]}}')
    first.expect(1)
    job_id = first.env["JOBID"]
    batch.control("POST", "stats/reset")
    again = offloader.start(2, job_id=job_id, KEEPBATCHJOB="true", WORKERSPEC=first.env["WORKERSPEC"]).expect(1, 60)
    assert "Tasks_CreateTaskCollection" not in stats(batch)["operations"]
    assert any("task=1" in line for line in again.lines("task failed")), again.stdout


# ----- --dry-run, --help, --version -----

DRY_RUN_SPEC = ('{"backoffLimit":2,"container":{"command":["/bin/run"],"args":["--x=$(A)"],'
                '"env":[{"name":"A","value":"alpha"},'
                '{"name":"TOKEN","valueFrom":{"secretKeyRef":{"name":"s","key":"k"}}}]}}')


def test_dry_run_sends_nothing_and_redacts(offloader, batch):
    run = offloader.start(120, args=["--dry-run"], AGGREGATORIMAGENAME="probe:1",
                          WORKERIMAGENAME="registry.example.com/team/probe:2",
                          REGISTRYNAME="registry.example.com", REGISTRYUSERNAME="robot",
                          REGISTRYPASSWORD=REGISTRY_PASSWORD, WORKERSPEC=DRY_RUN_SPEC,
                          BATCH_OFFLOAD_WORKER_ENV_1=SECRET_ENV_VALUE).expect(0, timeout=30)
    assert stats(batch)["total"] == 0
    out = run.stdout
    assert f"POST {batch.url}/jobs?api-version=" in out
    assert f"/jobs/{run.env['JOBID']}/addtaskcollection" in out
    assert "1 of 2 task collections (121 tasks in all, the aggregator last)" in out
    assert '"commandLine":"--x=alpha"' in out and "--entrypoint /bin/run" in out
    assert '"password":"REDACTED"' in out
    assert "REDACTED" in out and '"name":"TOKEN"' in out
    for secret in ALL_SECRETS:
        assert secret not in out


def test_dry_run_redacts_secrets_that_json_escapes(offloader, batch):
    password = 'pa"ss\\word-json-escaped'
    token = "first-line\nsecond-line-of-a-pem-key"
    run = offloader.start(2, args=["--dry-run"], WORKERIMAGENAME="registry.example.com/team/probe:2",
                          REGISTRYNAME="registry.example.com", REGISTRYUSERNAME="robot",
                          REGISTRYPASSWORD=password, WORKERSPEC=DRY_RUN_SPEC,
                          BATCH_OFFLOAD_WORKER_ENV_1=token).expect(0, timeout=30)
    assert "word-json-escaped" not in run.stdout
    assert "second-line-of-a-pem-key" not in run.stdout


def test_help_lists_every_variable(offloader_binary):
    run = OffloaderProcess(offloader_binary, {}, ["--help"])
    assert run.wait(30) == 0
    run.check_clean()
    for name in ("BATCHCONNECTIONSTRING", "BATCHNAME", "BATCHPASSWORD", "JOBID", "POOLID", "WORKERIMAGENAME",
                 "COMPLETIONS", "AGGREGATORIMAGENAME", "AGGREGATORARGS", "WORKERSPEC", "KEEPBATCHJOB",
                 "BATCH_OFFLOAD_RETRY_BUDGET_SECONDS", "BATCH_OFFLOAD_POLL_MAX_SECONDS"):
        assert name in run.stdout
    assert "exit codes" in run.stdout


def test_version_and_unknown_option(offloader_binary):
    run = OffloaderProcess(offloader_binary, {}, ["--version"])
    assert run.wait(30) == 0
    run.check_clean()
    assert run.stdout.startswith("batch-offloader ") and "libcurl" in run.stdout
    build_tls = "wolfSSL" if "wolfssl" in offloader_binary.parent.name else "OpenSSL"
    assert build_tls.lower() in run.stdout.lower()
    run = OffloaderProcess(offloader_binary, {}, ["--frobnicate"])
    assert run.wait(30) == 2
    run.check_clean()
    assert "--frobnicate" in run.output and "--help" in run.output
