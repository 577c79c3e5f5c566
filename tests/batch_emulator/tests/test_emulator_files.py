# Resource files and output files against a real Azurite, with service SAS URLs made here: what a
# node downloads and uploads, and how a wrong or under-privileged SAS fails the task.
import uuid

import pytest

from batch_emulator.testing import azurite, batch, emulator  # noqa: F401 (pytest fixtures)

SHOW_INPUTS = ("/bin/sh -c 'cd \"$AZ_BATCH_TASK_WORKING_DIR\" && find . -type f | sort && cat single.txt "
               "&& ls -l single.txt | cut -c1-10'")
WRITE_OUTPUTS = ("/bin/sh -c 'mkdir -p out/sub && echo x > out/x.txt && echo y > out/sub/y.txt "
                 "&& echo hidden > out/.hidden.txt && echo skip > out/skip.log && echo logged'")


@pytest.fixture
def storage(azurite):
    client = azurite.storage()
    client.container = f"c{uuid.uuid4().hex[:12]}"
    client.create_container(client.container)
    return client


@pytest.fixture
def job(batch):
    batch.create_pool("pool")
    batch.create_job("job")
    return "job"


def _upload(url, condition="taskcompletion", pattern="../stdout.txt", path=None):
    container = {"containerUrl": url, **({"path": path} if path else {})}
    return {"filePattern": pattern, "destination": {"container": container},
            "uploadOptions": {"uploadCondition": condition}}


def test_resource_files_from_a_container_and_a_blob_url(batch, job, storage):
    for name in ("job1/input/a.txt", "job1/input/sub/b.txt", "other/x.txt"):
        storage.put_blob(storage.container, name, name.encode())
    storage.put_blob(storage.container, "single", b"one blob\n")
    batch.add_task(job, {"id": "t", "commandLine": SHOW_INPUTS, "resourceFiles": [
        {"storageContainerUrl": storage.container_sas_url(storage.container, "rl"), "blobPrefix": "job1/input/"},
        {"storageContainerUrl": storage.container_sas_url(storage.container, "rl"), "blobPrefix": "other/",
         "filePath": "in"},
        {"httpUrl": storage.blob_sas_url(storage.container, "single"), "filePath": "single.txt", "fileMode": "0600"}]})
    task = batch.wait_task_completed(job, "t")
    assert task["executionInfo"]["result"] == "success", task
    assert batch.task_file(job, "t", "stdout.txt").decode().splitlines() == [
        "./in/other/x.txt", "./job1/input/a.txt", "./job1/input/sub/b.txt", "./single.txt", "one blob",
        "-rw-------"]


def test_output_files_and_logs_are_uploaded_by_condition(batch, job, storage):
    write_sas = storage.container_sas_url(storage.container, "cw")
    batch.add_task(job, {"id": "t", "commandLine": WRITE_OUTPUTS, "outputFiles": [
        _upload(write_sas, "tasksuccess", "out/**/*.txt", "results/t"),
        _upload(write_sas, "taskcompletion", "../stdout.txt", "logs/t/stdout.txt"),
        _upload(write_sas, "taskcompletion", "../std*.txt", "logs-by-pattern/t"),
        _upload(write_sas, "taskfailure", "out/*.txt", "only-on-failure")]})
    assert batch.wait_task_completed(job, "t")["executionInfo"]["result"] == "success"
    assert sorted(storage.blob_names(storage.container)) == [
        "logs-by-pattern/t/stderr.txt", "logs-by-pattern/t/stdout.txt", "logs/t/stdout.txt",
        "results/t/sub/y.txt", "results/t/x.txt"]
    assert storage.get_blob(storage.container, "logs/t/stdout.txt") == b"logged\n"
    assert storage.get_blob(storage.container, "results/t/sub/y.txt") == b"y\n"
    assert b"Uploaded" in batch.task_file(job, "t", "fileuploadout.txt")


def test_failure_outputs_are_uploaded_when_the_task_fails(batch, job, storage):
    write_sas = storage.container_sas_url(storage.container, "cw")
    batch.add_task(job, {"id": "t", "commandLine": "/bin/sh -c 'echo failing >&2; exit 4'", "outputFiles": [
        _upload(write_sas, "taskfailure", "../stderr.txt", "logs/t/stderr.txt"),
        _upload(write_sas, "tasksuccess", "../stdout.txt", "logs/t/stdout.txt")]})
    execution = batch.wait_task_completed(job, "t")["executionInfo"]
    assert execution["exitCode"] == 4 and execution["failureInfo"]["code"] == "FailureExitCode"
    assert storage.blob_names(storage.container) == ["logs/t/stderr.txt"]


@pytest.mark.parametrize("make_resource_file, code", [
    (lambda s: {"storageContainerUrl": s.container_sas_url(s.container, "r")}, "ResourceContainerAccessDenied"),
    (lambda s: {"storageContainerUrl": s.container_sas_url("missing-container", "rl")}, "ResourceContainerNotFound"),
    (lambda s: {"storageContainerUrl": s.container_sas_url(s.container, "rl", expires_in=-60, start_offset=-600)},
     "ResourceContainerAccessDenied"),
    (lambda s: {"httpUrl": s.blob_sas_url(s.container, "absent"), "filePath": "f"}, "BlobNotFound"),
    (lambda s: {"httpUrl": s.blob_sas_url(s.container, "present").replace("sig=", "sig=x"), "filePath": "f"},
     "BlobAccessDenied"),
])
def test_resource_file_failures_are_pre_processing_errors(batch, job, storage, make_resource_file, code):
    storage.put_blob(storage.container, "present", b"data")
    batch.add_task(job, {"id": "t", "commandLine": "/bin/true", "constraints": {"maxTaskRetryCount": 2},
                         "resourceFiles": [make_resource_file(storage)]})
    execution = batch.wait_task_completed(job, "t")["executionInfo"]
    assert execution["result"] == "failure" and execution["retryCount"] == 0 and "exitCode" not in execution
    failure = execution["failureInfo"]
    assert failure["category"] == "usererror" and failure["code"] == code
    assert all("sig=REDACTED" in detail["value"] or "sig=" not in detail["value"] for detail in failure["details"])


def test_upload_failures_fail_the_task_after_it_ran(batch, job, storage):
    read_only = storage.container_sas_url(storage.container, "r")
    missing = storage.container_sas_url("missing-container", "cw")
    batch.add_tasks(job, [
        {"id": "denied", "commandLine": "/bin/true", "outputFiles": [_upload(read_only)]},
        {"id": "no-container", "commandLine": "/bin/true", "outputFiles": [_upload(missing)]},
        {"id": "handled", "commandLine": "/bin/true", "outputFiles": [_upload(read_only)],
         "exitConditions": {"fileUploadError": {"dependencyAction": "satisfy"}}}])
    denied = batch.wait_task_completed(job, "denied")["executionInfo"]
    assert denied["exitCode"] == 0 and denied["result"] == "failure"
    assert denied["failureInfo"]["code"] == "FileUploadAccessDenied"
    assert batch.wait_task_completed(job, "no-container")["executionInfo"]["failureInfo"]["code"] == \
        "FileUploadContainerNotFound"
    assert b"Failed to upload" in batch.task_file(job, "denied", "fileuploaderr.txt")
    assert storage.blob_names(storage.container) == []


def test_on_task_failure_uses_file_upload_error_exit_options(batch, storage):
    batch.create_pool("pool")
    batch.create_job("job", onTaskFailure="performexitoptionsjobaction")
    read_only = storage.container_sas_url(storage.container, "r")
    batch.add_task("job", {"id": "t", "commandLine": "/bin/true", "outputFiles": [_upload(read_only)],
                           "exitConditions": {"fileUploadError": {"jobAction": "none"}}})
    batch.wait_task_completed("job", "t")
    assert batch.get_job("job")["state"] == "active"
    batch.add_task("job", {"id": "u", "commandLine": "/bin/true", "outputFiles": [_upload(read_only)]})
    assert batch.wait_job_state("job", "completed")["executionInfo"]["terminateReason"] == "TaskFailed"
