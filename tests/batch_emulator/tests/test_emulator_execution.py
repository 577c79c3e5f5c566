# How the emulator runs tasks, as a Batch node and the service would: exit codes and failureInfo,
# command lines without a shell, environment, retries, dependencies, maxParallelTasks, wall clocks,
# job completion rules, preemption, and container tasks through the image map.
import json
import shlex
import time

from batch_emulator.testing import PYTHON, batch, emulator, wait_until  # noqa: F401 (pytest fixtures)


def python_command(source, *arguments):
    """A commandLine running a Python snippet (quoted for a shell-less, shlex-style split)."""
    return shlex.join([PYTHON, "-c", source, *arguments])


def counted_attempt(counter, then):
    """A commandLine that counts its runs in the file counter, then runs the Python statement then, in
    which n is this run's number (1 for the first)."""
    return python_command("import pathlib, sys, time; p = pathlib.Path(sys.argv[1]); "
                          f"n = int(p.read_text()) + 1 if p.exists() else 1; p.write_text(str(n)); {then}",
                          str(counter))


def _start(batch, job_id="job", pool_id="pool", containers=False, **job_fields):
    batch.create_pool(pool_id, containers=containers)
    batch.create_job(job_id, pool_id=pool_id, **job_fields)


def test_exit_codes_and_failure_info(batch):
    _start(batch)
    batch.add_tasks("job", [{"id": "zero", "commandLine": "/bin/true"},
                            {"id": "seven", "commandLine": python_command("raise SystemExit(7)")}])
    assert batch.wait_task_completed("job", "zero")["executionInfo"]["result"] == "success"
    failed = batch.wait_task_completed("job", "seven")["executionInfo"]
    assert failed["exitCode"] == 7 and failed["result"] == "failure" and failed["retryCount"] == 0
    assert failed["failureInfo"]["category"] == "usererror" and failed["failureInfo"]["code"] == "FailureExitCode"
    assert failed["startTime"] <= failed["endTime"]


def test_command_line_runs_without_a_shell(batch):
    _start(batch)
    batch.add_task("job", {"id": "t", "commandLine": "/bin/echo $HOME 'two  spaces' \"quoted\" a;b"})
    batch.wait_task_completed("job", "t")
    assert batch.task_file("job", "t", "stdout.txt") == b"$HOME two  spaces quoted a;b\n"


def test_program_not_found_is_a_pre_processing_error_and_not_retried(batch):
    _start(batch)
    batch.add_task("job", {"id": "t", "commandLine": "/no/such/program", "constraints": {"maxTaskRetryCount": 3}})
    execution = batch.wait_task_completed("job", "t")["executionInfo"]
    assert execution["failureInfo"]["code"] == "CommandProgramNotFound"
    assert "exitCode" not in execution and execution["retryCount"] == 0


def test_environment_of_the_task(batch):
    _start(batch, commonEnvironmentSettings=[{"name": "FROM_JOB", "value": "job"},
                                             {"name": "OVERRIDDEN", "value": "by-job"}])
    batch.add_task("job", {"id": "t", "environmentSettings": [{"name": "OVERRIDDEN", "value": "by-task"},
                                                              {"name": "EMPTY"}],
                           "commandLine": python_command("import json, os; print(json.dumps(dict(os.environ)))")})
    task = batch.wait_task_completed("job", "t")
    env = json.loads(batch.task_file("job", "t", "stdout.txt"))
    assert env["FROM_JOB"] == "job" and env["OVERRIDDEN"] == "by-task" and env["EMPTY"] == ""
    assert env["AZ_BATCH_JOB_ID"] == "job" and env["AZ_BATCH_TASK_ID"] == "t" and env["AZ_BATCH_POOL_ID"] == "pool"
    assert env["AZ_BATCH_NODE_ID"] == task["nodeInfo"]["nodeId"] and env["AZ_BATCH_ACCOUNT_NAME"] == batch.account
    assert env["AZ_BATCH_TASK_WORKING_DIR"] == env["AZ_BATCH_TASK_DIR"] + "/wd"
    assert env["AZ_BATCH_TASK_DIR"].startswith(env["AZ_BATCH_NODE_ROOT_DIR"] + "/workitems/job/job-1/t")
    assert "PYTEST_CURRENT_TEST" not in env, "the test runner's environment must not leak into tasks"


def test_non_zero_exits_are_retried_up_to_max_task_retry_count(batch, tmp_path):
    counter = tmp_path / "attempts"
    fail_twice = counted_attempt(counter, "sys.exit(1 if n <= 2 else 0)")
    _start(batch)
    batch.add_task("job", {"id": "flaky", "commandLine": fail_twice, "constraints": {"maxTaskRetryCount": 2}})
    execution = batch.wait_task_completed("job", "flaky")["executionInfo"]
    assert execution["result"] == "success" and execution["retryCount"] == 2 and execution["lastRetryTime"]
    assert counter.read_text() == "3"
    batch.add_task("job", {"id": "hopeless", "commandLine": "/bin/false", "constraints": {"maxTaskRetryCount": 1}})
    execution = batch.wait_task_completed("job", "hopeless")["executionInfo"]
    assert execution["result"] == "failure" and execution["retryCount"] == 1


def test_job_max_task_retry_count_is_the_task_default(batch):
    _start(batch, constraints={"maxTaskRetryCount": 2})
    batch.add_task("job", {"id": "t", "commandLine": "/bin/false"})
    task = batch.wait_task_completed("job", "t")
    assert task["constraints"]["maxTaskRetryCount"] == 2 and task["executionInfo"]["retryCount"] == 2


def test_max_parallel_tasks_limits_running_tasks(batch, tmp_path):
    probe = python_command("import os, sys, time; d = sys.argv[1]; me = os.path.join(d, os.environ['AZ_BATCH_TASK_ID']); "
                           "open(me, 'w').close(); n = len(os.listdir(d)); time.sleep(0.3); os.remove(me); "
                           "print(n)", str(tmp_path))
    _start(batch, maxParallelTasks=2)
    batch.add_tasks("job", [{"id": str(i), "commandLine": probe} for i in range(6)])
    wait_until(lambda: batch.task_counts("job")["completed"] == 6)
    seen = [int(batch.task_file("job", str(i), "stdout.txt")) for i in range(6)]
    assert max(seen) <= 2, seen


def test_dependencies_run_the_aggregator_last(batch):
    _start(batch, usesTaskDependencies=True)
    batch.add_task("job", {"id": "aggregate", "commandLine": "/bin/true",
                           "dependsOn": {"taskIdRanges": [{"start": 0, "end": 4}]}})
    batch.add_tasks("job", [{"id": str(i), "commandLine": python_command("import time; time.sleep(0.1)")}
                            for i in range(5)])
    aggregate = batch.wait_task_completed("job", "aggregate")
    workers = [batch.get_task("job", str(i)) for i in range(5)]
    assert all(aggregate["executionInfo"]["startTime"] >= w["executionInfo"]["endTime"] for w in workers)


def test_a_range_waits_for_every_id_in_it(batch):
    _start(batch, usesTaskDependencies=True)
    batch.add_task("job", {"id": "aggregate", "commandLine": "/bin/true",
                           "dependsOn": {"taskIdRanges": [{"start": 0, "end": 1}], "taskIds": ["prep"]}})
    batch.add_tasks("job", [{"id": "0", "commandLine": "/bin/true"}, {"id": "prep", "commandLine": "/bin/true"}])
    wait_until(lambda: batch.task_counts("job")["completed"] == 2)
    assert batch.get_task("job", "aggregate")["state"] == "active"
    batch.add_task("job", {"id": "1", "commandLine": "/bin/true"})
    assert batch.wait_task_completed("job", "aggregate")["executionInfo"]["result"] == "success"


def test_a_failed_dependency_blocks_unless_its_exit_options_satisfy(batch):
    _start(batch, usesTaskDependencies=True)
    batch.add_tasks("job", [
        {"id": "fails", "commandLine": "/bin/false"},
        {"id": "fails-but-satisfies", "commandLine": "/bin/false",
         "exitConditions": {"default": {"dependencyAction": "satisfy"}}},
        {"id": "blocked", "commandLine": "/bin/true", "dependsOn": {"taskIds": ["fails"]}},
        {"id": "runs", "commandLine": "/bin/true", "dependsOn": {"taskIds": ["fails-but-satisfies"]}}])
    assert batch.wait_task_completed("job", "runs")["executionInfo"]["result"] == "success"
    wait_until(lambda: batch.task_counts("job") == {"active": 1, "running": 0, "completed": 3, "succeeded": 1,
                                                    "failed": 2})
    time.sleep(0.3)     # nothing else may start: proving a negative needs a moment
    assert batch.get_task("job", "blocked")["state"] == "active"


def test_task_wall_clock_ends_the_task(batch):
    _start(batch)
    batch.add_task("job", {"id": "slow", "commandLine": "/bin/sleep 30",
                           "constraints": {"maxWallClockTime": "PT0.5S", "maxTaskRetryCount": 3}})
    execution = batch.wait_task_completed("job", "slow", timeout=15)["executionInfo"]
    assert execution["result"] == "failure" and execution["failureInfo"]["code"] == "TaskEnded"
    assert execution["exitCode"] == 137 and execution["retryCount"] == 0


def test_job_wall_clock_terminates_the_job_and_its_tasks(batch):
    _start(batch, constraints={"maxWallClockTime": "PT1S"})
    batch.add_task("job", {"id": "slow", "commandLine": "/bin/sleep 30"})
    job = batch.wait_job_state("job", "completed", timeout=15)
    assert job["executionInfo"]["terminateReason"] == "MaxWallClockTimeExpiry"
    assert batch.get_task("job", "slow")["executionInfo"]["failureInfo"]["code"] == "TaskEnded"


def test_on_all_tasks_complete_terminates_the_job(batch):
    _start(batch)
    batch.add_tasks("job", [{"id": str(i), "commandLine": "/bin/true"} for i in range(3)])
    batch.ok(200, "PATCH", "/jobs/job", {"onAllTasksComplete": "terminatejob"})
    job = batch.wait_job_state("job", "completed")
    assert job["executionInfo"]["terminateReason"] == "AllTasksComplete"
    assert batch.task_counts("job")["succeeded"] == 3


def test_terminatejob_on_a_job_without_tasks_completes_it_at_once(batch):
    # Spec, onAllTasksComplete: "if a Job contains no Tasks, then all Tasks are considered complete".
    _start(batch, onAllTasksComplete="terminatejob")
    assert batch.get_job("job")["state"] == "completed"
    reply = batch.request("POST", "/jobs/job/addtaskcollection", {"value": [{"id": "0", "commandLine": "x"}]})
    assert reply.status == 409 and reply.error_code == "JobCompleted"


def test_task_failure_terminates_the_job_with_perform_exit_options_job_action(batch):
    _start(batch, onTaskFailure="performexitoptionsjobaction")
    batch.add_tasks("job", [
        {"id": "tolerated", "commandLine": python_command("raise SystemExit(3)"),
         "exitConditions": {"exitCodes": [{"code": 3, "exitOptions": {"jobAction": "none"}}]}},
        {"id": "sleeper", "commandLine": "/bin/sleep 30"}])
    batch.wait_task_completed("job", "tolerated")
    assert batch.get_job("job")["state"] == "active"
    batch.add_task("job", {"id": "fatal", "commandLine": "/bin/false"})
    job = batch.wait_job_state("job", "completed")
    assert job["executionInfo"]["terminateReason"] == "TaskFailed"
    assert batch.get_task("job", "sleeper")["executionInfo"]["failureInfo"]["code"] == "TaskEnded"


def test_preemption_requeues_without_using_a_retry(batch, tmp_path):
    counter = tmp_path / "runs"
    first_run_hangs = counted_attempt(counter, "time.sleep(60 if n == 1 else 0)")
    _start(batch)
    batch.add_task("job", {"id": "t", "commandLine": first_run_hangs})
    wait_until(lambda: counter.exists())
    preempted = batch.control("POST", "preempt", {"jobId": "job"})["preempted"]
    assert preempted == [{"jobId": "job", "taskId": "t"}]
    execution = batch.wait_task_completed("job", "t")["executionInfo"]
    assert execution["result"] == "success" and execution["retryCount"] == 0 and execution["requeueCount"] == 0
    assert counter.read_text() == "2"


def test_a_pool_without_nodes_says_why_and_its_tasks_wait(batch):
    _start(batch)
    starved = {"code": "AllocationFailed", "message": "Desired number of dedicated nodes could not be allocated"}
    batch.control("POST", "pool-capacity", {"resizeErrors": [starved]})
    try:
        batch.add_task("job", {"id": "t", "commandLine": "/bin/true"})
        pool = batch.ok(200, "GET", "/pools/pool", query={"$select": "id,resizeErrors,currentDedicatedNodes"}).json
        assert pool["resizeErrors"] == [starved] and pool["currentDedicatedNodes"] == 0
        time.sleep(0.5)
        assert batch.ok(200, "GET", "/jobs/job/tasks/t").json["state"] == "active"
    finally:
        batch.control("POST", "pool-capacity", {"resizeErrors": []})
    assert batch.wait_task_completed("job", "t")["executionInfo"]["result"] == "success"
    assert "resizeErrors" not in batch.ok(200, "GET", "/pools/pool").json


def test_container_task_command_line_replaces_cmd_not_entrypoint(batch):
    _start(batch, containers=True)
    batch.add_tasks("job", [
        {"id": "defaults", "commandLine": "", "containerSettings": {"imageName": "echo-image:1"}},
        {"id": "args", "commandLine": "my args", "containerSettings": {"imageName": "echo-image:1"}},
        {"id": "entrypoint", "commandLine": "only this",
         "containerSettings": {"imageName": "echo-image:1", "containerRunOptions": "--rm --entrypoint /bin/echo"}}])
    for task_id in ("defaults", "args", "entrypoint"):
        task = batch.wait_task_completed("job", task_id)
        assert task["executionInfo"]["result"] == "success" and task["executionInfo"]["containerInfo"]["containerId"]
    assert batch.task_file("job", "defaults", "stdout.txt") == b"from-entrypoint default-cmd\n"
    assert batch.task_file("job", "args", "stdout.txt") == b"from-entrypoint my args\n"
    assert batch.task_file("job", "entrypoint", "stdout.txt") == b"only this\n"


def test_container_run_options_env_and_workdir(batch, tmp_path):
    _start(batch, containers=True)
    show = python_command("import os; print(os.environ['X'], os.environ['AZ_BATCH_TASK_ID'], os.getcwd())")
    batch.add_tasks("job", [
        {"id": "options", "commandLine": show, "containerSettings": {
            "imageName": "python:3", "containerRunOptions": f"-e X=from-option --memory 1g --workdir={tmp_path}"}},
        {"id": "image-env", "commandLine": "", "containerSettings": {
            "imageName": "echo-image:1", "containerRunOptions": "--entrypoint /usr/bin/env"}}])
    batch.wait_task_completed("job", "options")
    assert batch.task_file("job", "options", "stdout.txt") == f"from-option options {tmp_path}\n".encode()
    batch.wait_task_completed("job", "image-env")
    assert b"IMAGE_VARIABLE=from-image\n" in batch.task_file("job", "image-env", "stdout.txt")


def test_unknown_image_fails_like_a_pull_failure(batch):
    _start(batch, containers=True)
    batch.add_task("job", {"id": "t", "commandLine": "", "constraints": {"maxTaskRetryCount": 3},
                           "containerSettings": {"imageName": "myregistry.azurecr.io/nothing:2"}})
    execution = batch.wait_task_completed("job", "t")["executionInfo"]
    assert execution["result"] == "failure" and execution["retryCount"] == 0 and "exitCode" not in execution
    assert execution["failureInfo"]["category"] == "usererror"
    assert execution["failureInfo"]["code"] == "ContainerInvalidImage"


def test_tasks_of_a_pool_created_later_wait_then_run(batch):
    batch.create_job("job", pool_id="later")
    batch.add_task("job", {"id": "t", "commandLine": "/bin/true"})
    assert batch.get_task("job", "t")["state"] == "active"
    batch.create_pool("later")
    assert batch.wait_task_completed("job", "t")["executionInfo"]["result"] == "success"
