"""The Kubernetes Job's failure and success policy on Batch (offloader/job_policy.c, README "Failure
and success"), against the emulator: backoffLimit as a total of failed runs over the whole Job,
backoffLimitPerIndex letting the other indexes go on, maxFailedIndexes ending the work early, the Job
failing at the end when any index failed, successPolicy ending the work as soon as it is met, and the
podFailurePolicy's onExitCodes rules as the tasks' exitConditions. Each end the offloader decides is
the Batch job's terminateReason, named as the Job controller names the same end."""
import json

from offloader_process import (batch, list_tasks, offload_emulator, offloader,  # noqa: F401
                               offloader_binary)

SLOW = 60  # seconds a task that must be stopped sleeps: far past any assertion's wait


def spec(env, **fields):
    return json.dumps({**fields, "completionMode": "Indexed", "container": {"name": "worker", "env": [
        {"name": name, "value": str(value)} for name, value in env.items()]}})


def terminate_reason(batch, run):
    return batch.get_job(run.env["JOBID"])["executionInfo"].get("terminateReason")


def exit_conditions(batch, run, task_id):
    return batch.request("GET", f"/jobs/{run.env['JOBID']}/tasks/{task_id}").json["exitConditions"]


def results(batch, run):
    return {t["id"]: (t["state"], t.get("executionInfo", {}).get("result"))
            for t in list_tasks(batch, run.env["JOBID"])}


def test_backoff_limit_is_a_total_over_the_job(offloader, batch, tmp_path):
    """Three tasks fail once each: each would succeed on its retry, but three failed runs are more
    than backoffLimit 2, so the Job fails (on Kubernetes: BackoffLimitExceeded)."""
    env = {"PROBE_FAIL_TASKS": "0,1,2", "PROBE_FAIL_ONCE_DIR": tmp_path, "PROBE_STDERR_LINES": 1,
           "PROBE_SLEEP_TASKS": f"3:{SLOW}"}
    run = offloader.start(4, KEEPBATCHJOB="true", WORKERSPEC=spec(env, backoffLimit=2)).expect(1, 90)
    assert run.seconds < SLOW - 15, "the sleeping task was waited for"
    assert "3 failed attempts of worker tasks: more than backoffLimit 2" in run.stdout, run.stdout
    assert terminate_reason(batch, run) == "BackoffLimitExceeded"
    assert results(batch, run)["3"] == ("completed", "failure")  # stopped


def test_backoff_limit_counts_the_retries_of_tasks_that_all_succeeded(offloader, batch, tmp_path):
    """Every task got through on its retry before the count was read: the Job fails all the same."""
    env = {"PROBE_FAIL_TASKS": "0,1,2", "PROBE_FAIL_ONCE_DIR": tmp_path, "PROBE_STDERR_LINES": 1}
    run = offloader.start(4, WORKERSPEC=spec(env, backoffLimit=2)).expect(1, 90)
    assert "3 failed attempts of worker tasks: more than backoffLimit 2" in run.stdout, run.stdout


def test_failures_within_backoff_limit_succeed(offloader, batch, tmp_path):
    env = {"PROBE_FAIL_TASKS": "0,1,2", "PROBE_FAIL_ONCE_DIR": tmp_path, "PROBE_STDERR_LINES": 1}
    run = offloader.start(4, KEEPBATCHJOB="true", WORKERSPEC=spec(env, backoffLimit=3)).expect(0, 90)
    assert sum(t["executionInfo"]["retryCount"] for t in list_tasks(batch, run.env["JOBID"])) == 3


def test_a_failed_index_leaves_the_others_going(offloader, batch):
    """backoffLimitPerIndex: index 1 fails for good at once, the slower others still run to their
    end; then the Job fails because an index failed (FailedIndexes), and the aggregator never ran."""
    env = {"PROBE_FAIL_TASKS": "1", "PROBE_STDERR_LINES": 1, "PROBE_SLEEP_TASKS": "0:3,2:3,3:3"}
    run = offloader.start(4, KEEPBATCHJOB="true", AGGREGATORIMAGENAME="probe:1",
                          WORKERSPEC=spec(env, backoffLimitPerIndex=0)).expect(1, 90)
    assert results(batch, run) == {"0": ("completed", "success"), "1": ("completed", "failure"),
                                   "2": ("completed", "success"), "3": ("completed", "success"),
                                   "aggregator": ("active", None)}
    assert "1 of 4 indexes failed after their retries" in run.stdout, run.stdout
    assert terminate_reason(batch, run) == "FailedIndexes"
    assert exit_conditions(batch, run, "1") == {"default": {"jobAction": "none"}}


def test_max_failed_indexes_ends_the_work_early(offloader, batch):
    env = {"PROBE_FAIL_TASKS": "0,1", "PROBE_STDERR_LINES": 1, "PROBE_SLEEP_TASKS": f"2:{SLOW},3:{SLOW}"}
    run = offloader.start(4, KEEPBATCHJOB="true",
                          WORKERSPEC=spec(env, backoffLimitPerIndex=0, maxFailedIndexes=1)).expect(1, 90)
    assert run.seconds < SLOW - 15, "the sleeping tasks were waited for"
    assert "2 indexes failed: more than maxFailedIndexes 1" in run.stdout, run.stdout
    assert terminate_reason(batch, run) == "MaxFailedIndexesExceeded"
    assert results(batch, run)["2"] == ("completed", "failure")  # stopped, not left running


def test_success_policy_count_ends_the_work_as_soon_as_met(offloader, batch):
    env = {"PROBE_SLEEP_TASKS": f"2:{SLOW},3:{SLOW},4:{SLOW}"}
    policy = {"rules": [{"succeededCount": 2}]}
    run = offloader.start(5, KEEPBATCHJOB="true", WORKERSPEC=spec(env, successPolicy=policy)).expect(0, 90)
    assert run.seconds < SLOW - 15, "the sleeping tasks were waited for"
    assert "successPolicy is met (2 of 5 indexes succeeded)" in run.stdout, run.stdout
    assert terminate_reason(batch, run) == "SuccessCriteriaMet"
    assert results(batch, run)["4"] == ("completed", "failure")  # stopped


def test_success_policy_indexes_wait_for_those_indexes(offloader, batch):
    """Indexes 1 and 3 must succeed: 0 and 2 succeeding first is not enough."""
    env = {"PROBE_SLEEP_TASKS": f"1:5,3:5,4:{SLOW},5:{SLOW}"}
    policy = {"rules": [{"succeededIndexes": "1,3"}]}
    run = offloader.start(6, KEEPBATCHJOB="true", WORKERSPEC=spec(env, successPolicy=policy)).expect(0, 90)
    assert 5 <= run.seconds < SLOW - 15, run.stdout
    tasks = results(batch, run)
    assert all(tasks[i] == ("completed", "success") for i in "0123"), tasks
    assert tasks["4"] == ("completed", "failure") and tasks["5"] == ("completed", "failure"), tasks
    assert terminate_reason(batch, run) == "SuccessCriteriaMet"


def test_success_policy_with_an_aggregator_is_refused(offloader):
    policy = {"rules": [{"succeededCount": 1}]}
    run = offloader.start(2, AGGREGATORIMAGENAME="probe:1", WORKERSPEC=spec({}, successPolicy=policy)).expect(2, 30)
    assert "successPolicy cannot be used with an aggregator" in run.output


def test_fail_job_exit_codes_end_the_job_at_once(offloader, batch):
    """FailJob on 42 ends the Job although backoffLimitPerIndex lets a failed index go on; exit 7
    fails only its index. Batch gets the rule as the tasks' exitConditions and acts on it itself."""
    env = {"PROBE_FAIL_TASKS": "1,2", "PROBE_FAIL_CODES": "1:7,2:42", "PROBE_STDERR_LINES": 1,
           "PROBE_SLEEP_TASKS": f"0:{SLOW},2:2,3:{SLOW}"}
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}},
                        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}
    run = offloader.start(4, KEEPBATCHJOB="true",
                          WORKERSPEC=spec(env, backoffLimitPerIndex=0, podFailurePolicy=policy)).expect(1, 90)
    assert run.seconds < SLOW - 15, "the sleeping tasks were waited for"
    assert exit_conditions(batch, run, "1") == {"exitCodes": [{"code": 42, "exitOptions": {"jobAction": "terminate"}}],
                                      "default": {"jobAction": "none"}}
    assert terminate_reason(batch, run) == "TaskFailed"  # Batch's own action, on exit code 42
    lines = [line for line in run.lines("task failed task=") if "task=2 " in line]
    assert lines and "exit_code=42" in lines[0], run.stdout


def test_not_in_spans_every_other_code_but_zero(offloader, batch):
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [3, 4]}}]}
    run = offloader.start(1, KEEPBATCHJOB="true",
                          WORKERSPEC=spec({}, backoffLimitPerIndex=0, podFailurePolicy=policy)).expect(0, 60)
    terminate = {"jobAction": "terminate"}
    assert exit_conditions(batch, run, "0") == {
        "exitCodeRanges": [{"start": -2147483648, "end": -1, "exitOptions": terminate},
                           {"start": 1, "end": 2, "exitOptions": terminate},
                           {"start": 5, "end": 2147483647, "exitOptions": terminate}],
        "default": {"jobAction": "none"}}
