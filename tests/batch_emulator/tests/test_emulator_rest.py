# The emulator's REST surface against the spec and docs/azure-facts.md: status codes, headers, bodies, errors,
# listing with $filter/$select/paging, api-version handling, task files.

from batch_emulator.testing import batch, emulator, wait_until  # noqa: F401 (pytest fixtures)


def test_create_job_answers_201_with_the_service_headers(batch):
    batch.create_pool("pool")
    reply = batch.create_job("job-1", usesTaskDependencies=True)
    assert reply.body == b""
    for header in ("etag", "last-modified", "request-id", "dataserviceid", "location"):
        assert reply.headers.get(header), header
    assert reply.headers["location"] == f"{batch.url}/jobs/job-1"
    assert reply.headers["etag"].startswith("0x8")


def test_get_job_returns_the_job_with_odata_metadata_and_defaults(batch):
    batch.create_job("job-1", pool_id="missing-pool")
    reply = batch.ok(200, "GET", "/jobs/job-1")
    assert reply.headers["content-type"] == "application/json;odata=minimalmetadata"
    job = reply.json
    assert job["odata.metadata"] == f"{batch.url}/$metadata#jobs/@Element"
    assert job["state"] == "active" and job["priority"] == 0 and job["maxParallelTasks"] == -1
    assert job["onAllTasksComplete"] == "noaction" and job["usesTaskDependencies"] is False
    assert job["executionInfo"]["poolId"] == "missing-pool"
    assert job["eTag"] == reply.headers["etag"]


def test_job_ids_are_case_insensitive_and_unique(batch):
    batch.create_job("Job-A")
    reply = batch.request("POST", "/jobs", {"id": "job-a", "poolInfo": {"poolId": "pool"}})
    assert reply.status == 409 and reply.error_code == "JobExists"
    assert batch.ok(200, "GET", "/jobs/JOB-A").json["id"] == "Job-A"


def test_errors_have_the_service_shape(batch):
    reply = batch.request("GET", "/jobs/nope")
    assert reply.status == 404
    error = reply.json
    assert error["odata.metadata"].endswith(
        "/$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element")
    assert error["code"] == "JobNotFound"
    assert error["message"]["lang"] == "en-US"
    assert error["message"]["value"].startswith("The specified job does not exist.\nRequestId:")
    assert reply.headers["request-id"] in error["message"]["value"]


def test_missing_and_unknown_api_versions_are_refused_before_authentication(batch):
    missing = batch.request("GET", "/jobs", api_version=False, sign=False)
    assert missing.status == 400 and missing.error_code == "MissingRequiredQueryParameter"
    assert {"key": "QueryParameterName", "value": "api-version"} in missing.json["values"]
    unknown = batch.request("GET", "/jobs", query={"api-version": "2099-01-01.99.0"})
    assert unknown.status == 400 and unknown.error_code == "InvalidQueryParameterValue"
    for version in ("2022-10-01.16.0", "2024-07-01.20.0", "2025-06-01.21.0"):
        assert batch.request("GET", "/jobs", query={"api-version": version, "timeout": "30"}).status == 200


def test_unknown_paths_verbs_and_unimplemented_operations(batch):
    assert batch.request("GET", "/nothing-here").error_code == "InvalidUri"
    assert batch.request("PUT", "/jobs").status == 405
    unimplemented = batch.request("GET", "/applications")
    assert unimplemented.status == 501 and unimplemented.error_code == "NotImplemented"


def test_pools_create_get_head(batch):
    batch.create_pool("pool-1", containers=True, taskSlotsPerNode=2)
    assert batch.request("POST", "/pools", {"id": "POOL-1", "vmSize": "x"}).error_code == "PoolExists"
    pool = batch.ok(200, "GET", "/pools/pool-1").json
    assert pool["virtualMachineConfiguration"]["containerConfiguration"]["type"] == "dockerCompatible"
    assert pool["state"] == "active" and pool["allocationState"] == "steady" and pool["taskSlotsPerNode"] == 2
    head = batch.request("HEAD", "/pools/pool-1")
    assert head.status == 200 and head.body == b""
    missing = batch.request("HEAD", "/pools/none")
    assert missing.status == 404 and missing.body == b""


def test_auto_pool_jobs_get_a_pool_that_lives_with_the_job(batch):
    batch.ok(201, "POST", "/jobs", {"id": "auto", "poolInfo": {"autoPoolSpecification": {
        "autoPoolIdPrefix": "offload", "poolLifetimeOption": "job",
        "pool": {"vmSize": "standard_d2s_v3", "targetLowPriorityNodes": 2}}}})
    pool_id = batch.get_job("auto")["executionInfo"]["poolId"]
    assert pool_id.startswith("offload_")
    assert batch.ok(200, "GET", f"/pools/{pool_id}").json["targetLowPriorityNodes"] == 2
    batch.add_task("auto", {"id": "t", "commandLine": "/bin/true"})
    assert batch.wait_task_completed("auto", "t")["executionInfo"]["result"] == "success"
    batch.ok(202, "POST", "/jobs/auto/terminate")
    batch.wait_job_state("auto", "completed")
    assert batch.request("GET", f"/pools/{pool_id}").status == 404


def test_add_task_answers_201_and_get_task_shows_it(batch):
    batch.create_pool("pool")
    batch.create_job("job")
    reply = batch.add_task("job", {"id": "task-1", "commandLine": "/bin/echo hello"})
    assert reply.headers["location"] == f"{batch.url}/jobs/job/tasks/task-1"
    assert reply.headers["dataserviceid"] == reply.headers["location"]
    task = batch.wait_task_completed("job", "task-1")
    assert task["odata.metadata"] == f"{batch.url}/$metadata#tasks/@Element"
    assert task["executionInfo"]["exitCode"] == 0 and task["executionInfo"]["result"] == "success"
    assert task["constraints"]["maxTaskRetryCount"] == 0
    assert task["nodeInfo"]["poolId"] == "pool"
    duplicate = batch.request("POST", "/jobs/job/tasks", {"id": "TASK-1", "commandLine": "/bin/true"})
    assert duplicate.status == 409 and duplicate.error_code == "TaskExists"
    assert batch.request("GET", "/jobs/job/tasks/none").error_code == "TaskNotFound"
    assert batch.request("POST", "/jobs/none/tasks", {"id": "t", "commandLine": "x"}).error_code == "JobNotFound"


def test_add_task_collection_reports_each_task(batch):
    batch.create_job("job", pool_id="absent")     # no pool: the tasks wait, as on the service
    batch.add_task("job", {"id": "5", "commandLine": "/bin/true"})
    results = batch.add_tasks("job", [{"id": str(i), "commandLine": "/bin/true"} for i in range(10)])
    by_id = {result["taskId"]: result for result in results}
    assert by_id["5"]["status"] == "clienterror" and by_id["5"]["error"]["code"] == "TaskExists"
    assert all(by_id[str(i)]["status"] == "success" for i in range(10) if i != 5)
    assert by_id["0"]["location"] == f"{batch.url}/jobs/job/tasks/0" and by_id["0"]["eTag"]
    bad_id = batch.add_tasks("job", [{"id": "bad id", "commandLine": "x"}])[0]
    assert bad_id["status"] == "clienterror" and bad_id["error"]["code"] == "InvalidPropertyValue"
    assert batch.task_counts("job") == {"active": 10, "running": 0, "completed": 0, "succeeded": 0, "failed": 0}


def test_add_task_collection_limits(batch):
    batch.create_job("job", pool_id="absent")
    too_many = batch.request("POST", "/jobs/job/addtaskcollection",
                             {"value": [{"id": str(i), "commandLine": "x"} for i in range(101)]})
    assert too_many.status == 400
    huge = batch.request("POST", "/jobs/job/addtaskcollection",
                         {"value": [{"id": str(i), "commandLine": "x" * 11000} for i in range(100)]})
    assert huge.status == 413 and huge.error_code == "RequestBodyTooLarge"
    assert batch.task_counts("job")["active"] == 0


def test_task_counts_have_task_and_slot_counts(batch):
    batch.create_pool("pool")
    batch.create_job("job")
    batch.add_tasks("job", [{"id": "ok", "commandLine": "/bin/true", "requiredSlots": 1},
                            {"id": "bad", "commandLine": "/bin/false"}])
    wait_until(lambda: batch.task_counts("job")["completed"] == 2)
    counts = batch.ok(200, "GET", "/jobs/job/taskcounts").json
    assert counts["odata.metadata"] == f"{batch.url}/$metadata#taskcounts/@Element"
    assert counts["taskCounts"] == {"active": 0, "running": 0, "completed": 2, "succeeded": 1, "failed": 1}
    assert counts["taskSlotCounts"] == {"active": 0, "running": 0, "completed": 2, "succeeded": 1, "failed": 1}


def test_list_tasks_filters_selects_and_pages(batch):
    batch.create_job("job", pool_id="absent")
    batch.add_tasks("job", [{"id": str(i), "commandLine": "/bin/true"} for i in range(25)])
    first = batch.ok(200, "GET", "/jobs/job/tasks", query={"$filter": "state eq 'active'", "$select": "id,state",
                                                            "maxresults": "10"}).json
    assert first["odata.metadata"] == f"{batch.url}/$metadata#tasks"
    assert [task["id"] for task in first["value"]] == [str(i) for i in range(10)]
    assert set(first["value"][0]) == {"id", "state"}
    seen, link = [task["id"] for task in first["value"]], first["odata.nextLink"]
    while link:
        reply = batch.follow(link)
        assert reply.status == 200, reply
        page = reply.json
        seen += [task["id"] for task in page["value"]]
        link = page.get("odata.nextLink")
    assert seen == [str(i) for i in range(25)]
    none = batch.ok(200, "GET", "/jobs/job/tasks", query={"$filter": "state eq 'completed'"}).json
    assert none["value"] == [] and "odata.nextLink" not in none
    both = batch.ok(200, "GET", "/jobs/job/tasks",
                    query={"$filter": "(state eq 'running') or startswith(id, '2')"}).json
    assert sorted(task["id"] for task in both["value"]) == ["2", "20", "21", "22", "23", "24"]
    bad = batch.request("GET", "/jobs/job/tasks", query={"$filter": "state eqq 'x'"})
    assert bad.status == 400 and bad.error_code == "InvalidQueryParameterValue"
    assert batch.request("GET", "/jobs/job/tasks", query={"maxresults": "5000"}).status == 400


def test_list_jobs_filters_on_id(batch):
    for job_id in ("a-1", "a-2", "b-1"):
        batch.create_job(job_id)
    jobs = batch.ok(200, "GET", "/jobs", query={"$filter": "startswith(id,'a-')"}).json["value"]
    assert [job["id"] for job in jobs] == ["a-1", "a-2"]
    jobs = batch.ok(200, "GET", "/jobs", query={"$filter": "id eq 'b-1'"}).json["value"]
    assert [job["id"] for job in jobs] == ["b-1"]


def test_task_files_stdout_stderr_and_ranges(batch):
    batch.create_pool("pool")
    batch.create_job("job")
    batch.add_task("job", {"id": "t", "commandLine": "/bin/sh -c 'echo out-text; echo err-text >&2'"})
    batch.wait_task_completed("job", "t")
    assert batch.task_file("job", "t", "stdout.txt") == b"out-text\n"
    assert batch.task_file("job", "t", "stderr.txt") == b"err-text\n"
    ranged = batch.ok(200, "GET", "/jobs/job/tasks/t/files/stdout.txt", headers={"ocp-range": "bytes=4-7"})
    assert ranged.body == b"text"
    head = batch.request("HEAD", "/jobs/job/tasks/t/files/stdout.txt")
    assert head.status == 200 and head.headers["content-length"] == "9" and head.body == b""
    assert head.headers["ocp-batch-file-isdirectory"] == "False" and head.headers["ocp-creation-time"]
    assert batch.request("GET", "/jobs/job/tasks/t/files/nothing.txt").error_code == "FileNotFound"
    assert batch.request("GET", "/jobs/job/tasks/t/files/..%2F..%2Fetc%2Fpasswd").status == 404


def test_patch_job_sets_on_all_tasks_complete(batch):
    batch.create_pool("pool")
    batch.create_job("job")
    batch.add_task("job", {"id": "t", "commandLine": "/bin/true"})
    batch.wait_task_completed("job", "t")
    batch.ok(200, "PATCH", "/jobs/job", {"onAllTasksComplete": "terminatejob"})
    job = batch.wait_job_state("job", "completed")
    assert job["executionInfo"]["terminateReason"] == "AllTasksComplete"
    late = batch.request("POST", "/jobs/job/tasks", {"id": "late", "commandLine": "/bin/true"})
    assert late.status == 409 and late.error_code == "JobCompleted"


def test_terminate_and_delete_job(batch):
    batch.create_pool("pool")
    batch.create_job("job")
    batch.add_task("job", {"id": "sleeper", "commandLine": "/bin/sleep 60"})
    wait_until(lambda: batch.get_task("job", "sleeper")["state"] == "running")
    batch.ok(202, "POST", "/jobs/job/terminate", {"terminateReason": "Stopped by the offloader"})
    job = batch.wait_job_state("job", "completed")
    assert job["executionInfo"]["terminateReason"] == "Stopped by the offloader"
    task = batch.get_task("job", "sleeper")
    assert task["state"] == "completed" and task["executionInfo"]["failureInfo"]["code"] == "TaskEnded"
    assert batch.request("POST", "/jobs/job/terminate").error_code == "JobCompleted"
    assert batch.ok(202, "DELETE", "/jobs/job").body == b""
    wait_until(lambda: batch.request("GET", "/jobs/job").status == 404)
    assert batch.request("GET", "/jobs/job").error_code == "JobNotFound"


def test_delete_shows_deleting_while_tasks_are_killed(batch):
    batch.create_pool("pool")
    batch.create_job("job")
    batch.add_task("job", {"id": "sleeper", "commandLine": "/bin/sleep 60"})
    wait_until(lambda: batch.get_task("job", "sleeper")["state"] == "running")
    batch.ok(202, "DELETE", "/jobs/job")
    right_after = batch.request("GET", "/jobs/job")
    assert right_after.status == 404 or right_after.json["state"] == "deleting"
    wait_until(lambda: batch.request("GET", "/jobs/job").status == 404)
    assert batch.request("DELETE", "/jobs/job").error_code == "JobNotFound"


def test_keep_alive_connection_is_reused(batch):
    batch.create_job("job")
    connection = batch._connect()
    for _ in range(20):
        batch.get_job("job")
    assert batch._connection is connection
