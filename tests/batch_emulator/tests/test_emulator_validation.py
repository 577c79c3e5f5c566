# Request bodies checked against the official spec's definitions and the service's own rules:
# unknown properties, missing required ones, wrong types, enums, formats, id rules, dependency
# rules, container settings against the pool, and what the emulator refuses to pretend to support.

import pytest

from batch_emulator.testing import batch, emulator  # noqa: F401 (pytest fixtures)


def _values(reply):
    return {item["key"]: item["value"] for item in reply.json.get("values", [])}


def _job(**fields):
    return {"id": "job", "poolInfo": {"poolId": "pool"}, **fields}


def test_unknown_property_is_refused_naming_it(batch):
    reply = batch.request("POST", "/jobs", _job(colour="blue"))
    assert reply.status == 400 and reply.error_code == "InvalidRequestBody"
    assert "'colour'" in _values(reply)["Reason"] and "BatchJobCreateOptions" in _values(reply)["Reason"]
    nested = batch.request("POST", "/jobs", _job(constraints={"maxTaskRetryCount": 1, "maxRetries": 2}))
    assert nested.error_code == "InvalidRequestBody" and "'maxRetries'" in _values(nested)["Reason"]
    assert batch.request("GET", "/jobs/job").status == 404


def test_missing_required_property_is_refused_naming_it(batch):
    reply = batch.request("POST", "/jobs", {"id": "job"})
    assert reply.status == 400 and reply.error_code == "MissingRequiredProperty"
    assert _values(reply)["PropertyName"] == "poolInfo"
    batch.create_job("job", pool_id="absent")
    task = batch.request("POST", "/jobs/job/tasks", {"id": "t"})
    assert task.error_code == "MissingRequiredProperty" and _values(task)["PropertyName"] == "commandLine"
    deep = batch.request("POST", "/jobs/job/tasks", {"id": "t", "commandLine": "x", "outputFiles": [
        {"filePattern": "*.txt", "destination": {"container": {"containerUrl": "http://h/c"}}}]})
    assert deep.error_code == "MissingRequiredProperty" and _values(deep)["PropertyName"] == "uploadOptions"


def test_null_means_absent(batch):
    batch.ok(201, "POST", "/jobs", _job(displayName=None, constraints=None))
    reply = batch.request("POST", "/jobs/job/tasks", {"id": "t", "commandLine": None})
    assert reply.error_code == "MissingRequiredProperty"


@pytest.mark.parametrize("fields, code, property_name", [
    ({"priority": "high"}, "InvalidRequestBody", None),
    ({"usesTaskDependencies": "yes"}, "InvalidRequestBody", None),
    ({"onAllTasksComplete": "sometimes"}, "InvalidPropertyValue", "onAllTasksComplete"),
    ({"onAllTasksComplete": "TerminateJob"}, "InvalidPropertyValue", "onAllTasksComplete"),
    ({"priority": 2 ** 31}, "InvalidPropertyValue", "priority"),
    ({"priority": 5000}, "OutOfRangePriority", "priority"),
    ({"constraints": {"maxWallClockTime": "1 hour"}}, "InvalidPropertyValue", "maxWallClockTime"),
    ({"maxParallelTasks": 0}, "InvalidPropertyValue", "maxParallelTasks"),
    ({"id": "a" * 65}, "InvalidPropertyValue", "id"),
    ({"id": "job.1"}, "InvalidPropertyValue", "id"),
    ({"poolInfo": {"poolId": "p", "autoPoolSpecification": {"poolLifetimeOption": "job"}}},
     "InvalidPropertyValue", "poolInfo"),
])
def test_bad_job_values(batch, fields, code, property_name):
    reply = batch.request("POST", "/jobs", _job(**fields))
    assert reply.status == 400 and reply.error_code == code, reply
    if property_name:
        assert _values(reply)["PropertyName"] == property_name


def test_malformed_json_is_an_invalid_request_body(batch):
    reply = batch.request("POST", "/jobs", b'{"id": "job", ')
    assert reply.status == 400 and reply.error_code == "InvalidRequestBody"


def test_durations_and_urls_are_checked(batch):
    batch.create_job("job", pool_id="absent")
    for good in ("PT1H", "P1DT2H30M", "PT0.5S", "P10675199DT2H48M5.4775807S"):
        batch.ok(201, "POST", "/jobs/job/tasks", {"id": f"t{len(good)}", "commandLine": "x",
                                                  "constraints": {"maxWallClockTime": good}})
    url = batch.request("POST", "/jobs/job/tasks", {"id": "u", "commandLine": "x", "resourceFiles": [
        {"httpUrl": "not a url", "filePath": "f"}]})
    assert url.error_code == "InvalidPropertyValue" and _values(url)["PropertyName"] == "httpUrl"


def test_a_schema_error_in_one_task_fails_the_whole_collection(batch):
    batch.create_job("job", pool_id="absent")
    reply = batch.request("POST", "/jobs/job/addtaskcollection", {"value": [
        {"id": "1", "commandLine": "x"}, {"id": "2", "commandLine": "x", "unknown": True}]})
    assert reply.status == 400 and reply.error_code == "InvalidRequestBody"
    assert batch.task_counts("job")["active"] == 0


def test_task_ids_are_checked_per_task(batch):
    batch.create_job("job", pool_id="absent")
    results = batch.add_tasks("job", [{"id": "a" * 64, "commandLine": "x"}, {"id": "a" * 65, "commandLine": "x"},
                                      {"id": "A" * 64, "commandLine": "x"}])
    assert [r["status"] for r in results] == ["success", "clienterror", "clienterror"]
    assert [r.get("error", {}).get("code") for r in results] == [None, "InvalidPropertyValue", "TaskExists"]


def test_dependencies_need_a_job_that_uses_them(batch):
    batch.create_job("plain", pool_id="absent")
    reply = batch.request("POST", "/jobs/plain/tasks", {"id": "t", "commandLine": "x",
                                                        "dependsOn": {"taskIds": ["a"]}})
    assert reply.status == 400 and reply.error_code == "TaskDependenciesNotSpecifiedOnJob"
    batch.create_job("deps", pool_id="absent", usesTaskDependencies=True)
    too_long = batch.request("POST", "/jobs/deps/tasks", {"id": "t", "commandLine": "x", "dependsOn": {
        "taskIds": [f"{i:063d}" for i in range(1016)]}})
    assert too_long.status == 400 and too_long.error_code == "TaskDependencyListTooLong"
    batch.ok(201, "POST", "/jobs/deps/tasks", {"id": "agg", "commandLine": "x", "dependsOn": {
        "taskIdRanges": [{"start": 0, "end": 99999}]}})


def test_job_action_needs_perform_exit_options_job_action(batch):
    batch.create_job("job", pool_id="absent")
    reply = batch.request("POST", "/jobs/job/tasks", {"id": "t", "commandLine": "x", "exitConditions": {
        "default": {"jobAction": "terminate"}}})
    assert reply.status == 400 and reply.error_code == "InvalidPropertyValue"
    assert _values(reply)["PropertyName"] == "jobAction"


def test_container_settings_must_match_the_pool(batch):
    batch.create_pool("plain")
    batch.create_pool("docker", containers=True)
    batch.create_job("on-plain", pool_id="plain")
    batch.create_job("on-docker", pool_id="docker")
    container_task = {"id": "t", "commandLine": "", "containerSettings": {"imageName": "python:3"}}
    assert batch.request("POST", "/jobs/on-plain/tasks", container_task).error_code == "InvalidPropertyValue"
    assert batch.request("POST", "/jobs/on-docker/tasks", {"id": "t", "commandLine": "x"}).error_code == \
        "InvalidPropertyValue"
    batch.ok(201, "POST", "/jobs/on-docker/tasks", container_task)


def test_resource_file_sources(batch):
    batch.create_job("job", pool_id="absent")
    no_path = batch.request("POST", "/jobs/job/tasks", {"id": "t", "commandLine": "x", "resourceFiles": [
        {"httpUrl": "http://127.0.0.1:1/c/b"}]})
    assert no_path.error_code == "MissingRequiredProperty" and _values(no_path)["PropertyName"] == "filePath"
    two = batch.request("POST", "/jobs/job/tasks", {"id": "t", "commandLine": "x", "resourceFiles": [
        {"httpUrl": "http://127.0.0.1:1/c/b", "storageContainerUrl": "http://127.0.0.1:1/c", "filePath": "f"}]})
    assert two.error_code == "InvalidPropertyValue"


def test_what_the_emulator_cannot_do_is_refused_not_ignored(batch):
    reply = batch.request("POST", "/jobs", _job(jobManagerTask={"id": "jm", "commandLine": "x"}))
    assert reply.status == 501 and reply.error_code == "NotImplemented"
    batch.create_job("job", pool_id="absent")
    auto_storage = batch.add_tasks("job", [{"id": "t", "commandLine": "x", "resourceFiles": [
        {"autoStorageContainerName": "inputs"}]}])[0]
    assert auto_storage["status"] == "clienterror" and auto_storage["error"]["code"] == "NotImplemented"
