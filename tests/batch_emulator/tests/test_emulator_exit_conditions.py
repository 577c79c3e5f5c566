# Exit conditions, retries and job actions against the spec's own words (quoted in each test), which is
# what mapping Kubernetes failure semantics (backoffLimit, podFailurePolicy onExitCodes, successPolicy) to
# Batch relies on: which ExitOptions apply, when, and what the task's and the job's counters then say.
from batch_emulator.testing import batch, emulator, wait_until  # noqa: F401 (pytest fixtures)
from test_emulator_execution import counted_attempt, python_command

UNREACHABLE = "http://127.0.0.1:1"      # nothing listens there: downloads and uploads fail at once
SATISFY = {"dependencyAction": "satisfy"}


def exit_with(code):
    return python_command(f"raise SystemExit({code})")


def _job(batch, **fields):
    batch.create_pool("pool")
    batch.create_job("job", usesTaskDependencies=True, **fields)


def _dependent_runs(batch, task_id):
    return batch.wait_task_completed("job", f"after-{task_id}")["executionInfo"]["result"] == "success"


def _with_dependent(task):
    return [task, {"id": f"after-{task['id']}", "commandLine": "/bin/true", "dependsOn": {"taskIds": [task["id"]]}}]


def test_exit_code_ranges_are_inclusive_and_exit_codes_come_first(batch):
    # Spec, ExitCodeRangeMapping.exitOptions: "if the Task exits with an exit code in the range start to end
    # (inclusive)".
    _job(batch)
    ranges = {"exitCodeRanges": [{"start": 3, "end": 5, "exitOptions": SATISFY}],
              "exitCodes": [{"code": 4, "exitOptions": {"dependencyAction": "block"}}]}
    for code in (3, 4, 5, 6):
        batch.add_tasks("job", _with_dependent({"id": f"exit-{code}", "commandLine": exit_with(code),
                                                "exitConditions": ranges}))
    assert _dependent_runs(batch, "exit-3") and _dependent_runs(batch, "exit-5")
    wait_until(lambda: batch.task_counts("job")["completed"] == 6)
    assert batch.get_task("job", "after-exit-4")["state"] == "active"
    assert batch.get_task("job", "after-exit-6")["state"] == "active"


def test_default_covers_other_non_zero_codes_but_not_exit_code_zero(batch):
    # Spec, ExitConditions.default: "This value is used if the Task exits with any nonzero exit code not
    # listed in the exitCodes or exitCodeRanges collection ... If you want non-default behavior on exit code
    # 0, you must list it explicitly using the exitCodes or exitCodeRanges collection."
    _job(batch, onTaskFailure="performexitoptionsjobaction")
    block_all = {"default": {"dependencyAction": "block", "jobAction": "none"}}
    batch.add_tasks("job", _with_dependent({"id": "zero", "commandLine": "/bin/true", "exitConditions": block_all})
                    + _with_dependent({"id": "nine", "commandLine": exit_with(9), "exitConditions": {
                        "default": {"dependencyAction": "satisfy", "jobAction": "none"}}}))
    assert _dependent_runs(batch, "zero") and _dependent_runs(batch, "nine")
    batch.add_task("job", {"id": "listed-zero", "commandLine": "/bin/true", "exitConditions": {
        "exitCodes": [{"code": 0, "exitOptions": {"jobAction": "terminate"}}]}})
    job = batch.wait_job_state("job", "completed")
    # Spec, BatchJobExecutionInfo.terminateReason: "TaskFailed - the Job's onTaskFailure attribute is set to
    # performExitOptionsJobAction, and a Task in the Job failed with an exit condition that specified a
    # jobAction of terminatejob."
    assert job["executionInfo"]["terminateReason"] == "TaskFailed"
    assert batch.get_task("job", "listed-zero")["executionInfo"]["result"] == "success"


def test_job_action_applies_only_once_retries_are_exhausted(batch, tmp_path):
    # Spec, onTaskFailure: "A Task is considered to have failed if has a failureInfo. A failureInfo is set if
    # the Task completes with a non-zero exit code after exhausting its retry count"; ExitOptions.jobAction:
    # "The default is none for exit code 0 and terminate for all other exit conditions."
    fail_twice = counted_attempt(tmp_path / "attempts", "sys.exit(7 if n <= 2 else 0)")
    _job(batch, onTaskFailure="performexitoptionsjobaction")
    batch.add_task("job", {"id": "flaky", "commandLine": fail_twice, "constraints": {"maxTaskRetryCount": 2}})
    execution = batch.wait_task_completed("job", "flaky")["executionInfo"]
    assert execution["result"] == "success" and execution["retryCount"] == 2 and "failureInfo" not in execution
    assert batch.get_job("job")["state"] == "active"
    batch.add_task("job", {"id": "hopeless", "commandLine": exit_with(7), "constraints": {"maxTaskRetryCount": 2}})
    job = batch.wait_job_state("job", "completed")
    assert job["executionInfo"]["terminateReason"] == "TaskFailed"
    execution = batch.get_task("job", "hopeless")["executionInfo"]
    assert execution["retryCount"] == 2 and execution["exitCode"] == 7
    assert execution["failureInfo"]["code"] == "FailureExitCode"


def test_pre_processing_errors_use_their_own_exit_options_and_are_not_retried(batch):
    # Spec, ExitConditions.preProcessingError: "How the Batch service should respond if the Task fails to
    # start due to an error."; BatchTaskExecutionInfo.retryCount: "pre-processing errors (the Task could not
    # be run) and file upload errors are not retried".
    _job(batch, onTaskFailure="performexitoptionsjobaction")
    missing_input = [{"httpUrl": f"{UNREACHABLE}/input.txt", "filePath": "input.txt"}]
    batch.add_tasks("job", _with_dependent({
        "id": "no-input", "commandLine": "/bin/true", "resourceFiles": missing_input,
        "constraints": {"maxTaskRetryCount": 3},
        "exitConditions": {"preProcessingError": {"dependencyAction": "satisfy", "jobAction": "none"},
                           "default": {"jobAction": "terminate"}}}))
    assert _dependent_runs(batch, "no-input")
    execution = batch.get_task("job", "no-input")["executionInfo"]
    assert execution["retryCount"] == 0 and "exitCode" not in execution
    assert execution["failureInfo"]["code"] == "BlobDownloadMiscError"
    assert batch.get_job("job")["state"] == "active"
    batch.add_task("job", {"id": "no-input-default", "commandLine": "/bin/true", "resourceFiles": missing_input,
                           "exitConditions": {"default": {"jobAction": "terminate"}}})
    assert batch.wait_job_state("job", "completed")["executionInfo"]["terminateReason"] == "TaskFailed"


def test_an_exit_code_mapping_takes_precedence_over_file_upload_error(batch):
    # Spec, ExitConditions.fileUploadError: "If the Task exited with an exit code that was specified via
    # exitCodes or exitCodeRanges, and then encountered a file upload error, then the action specified by the
    # exit code takes precedence."
    _job(batch)
    upload = [{"filePattern": "../stdout.txt", "uploadOptions": {"uploadCondition": "taskcompletion"},
               "destination": {"container": {"containerUrl": f"{UNREACHABLE}/logs?sig=x", "path": "stdout.txt"}}}]
    conditions = {"fileUploadError": {"dependencyAction": "block"},
                  "exitCodes": [{"code": 0, "exitOptions": SATISFY}]}
    batch.add_tasks("job", _with_dependent({"id": "mapped", "commandLine": "/bin/true", "outputFiles": upload,
                                            "exitConditions": conditions})
                    + _with_dependent({"id": "unmapped", "commandLine": exit_with(3), "outputFiles": upload,
                                       "exitConditions": conditions}))
    assert _dependent_runs(batch, "mapped")
    execution = batch.get_task("job", "mapped")["executionInfo"]
    assert execution["result"] == "failure" and execution["exitCode"] == 0
    assert execution["failureInfo"]["code"] == "FileUploadMiscError"
    wait_until(lambda: batch.task_counts("job")["completed"] == 3)
    assert batch.get_task("job", "after-unmapped")["state"] == "active"


def test_task_and_slot_counts_follow_results_and_retries(batch):
    # Spec, BatchTaskCounts.failed: "A Task fails if its result (found in the executionInfo property) is
    # 'failure'."; running: "The number of Tasks in the running or preparing state."
    _job(batch)
    batch.add_tasks("job", [{"id": "ok", "commandLine": "/bin/true", "requiredSlots": 1},
                            {"id": "retried", "commandLine": exit_with(2), "constraints": {"maxTaskRetryCount": 2}},
                            {"id": "waiting", "commandLine": "/bin/true", "dependsOn": {"taskIds": ["retried"]}}])
    wait_until(lambda: batch.task_counts("job")["completed"] == 2)
    counts = batch.ok(200, "GET", "/jobs/job/taskcounts").json
    expected = {"active": 1, "running": 0, "completed": 2, "succeeded": 1, "failed": 1}
    assert counts["taskCounts"] == expected and counts["taskSlotCounts"] == expected
    retried = batch.get_task("job", "retried")["executionInfo"]
    assert retried["retryCount"] == 2 and retried["exitCode"] == 2 and retried["result"] == "failure"
    failures = batch.ok(200, "GET", "/jobs/job/tasks", query={"$filter": "executionInfo/result eq 'failure'",
                                                              "$select": "id,executionInfo"}).json["value"]
    assert [task["id"] for task in failures] == ["retried"]
