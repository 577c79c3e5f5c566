# The control endpoint: injected faults (throttling, server errors, dropped connections, slow and
# partially applied answers, per-task server errors), preemption, reset, and the request statistics tests rely on.
import http.client
import json
import time

import pytest

from batch_emulator.testing import batch, emulator  # noqa: F401 (pytest fixtures)


def _tasks(ids):
    return {"value": [{"id": str(i), "commandLine": "/bin/true"} for i in ids]}


def test_throttling_answers_429_with_retry_after_then_recovers(batch):
    batch.create_job("job", pool_id="absent")
    batch.control("POST", "faults", {"status": 429, "count": 2, "retryAfter": 1, "operations": ["addtaskcollection"]})
    assert batch.request("GET", "/jobs/job").status == 200, "other operations are not throttled"
    for _ in range(2):
        reply = batch.request("POST", "/jobs/job/addtaskcollection", _tasks(range(3)))
        assert reply.status == 429 and reply.error_code == "TooManyRequests"
        assert reply.headers["retry-after"] == "1" and reply.headers["request-id"]
        assert reply.json["message"]["lang"] == "en-US"
    assert batch.task_counts("job")["active"] == 0, "a throttled request is not applied"
    assert batch.request("POST", "/jobs/job/addtaskcollection", _tasks(range(3))).status == 200
    assert batch.control("GET", "faults") == {"faults": []}


def test_retry_after_defaults_to_one_second_for_429(batch):
    batch.control("POST", "faults", [{"status": 429, "operations": ["ListJobs"]},
                                     {"status": 429, "retryAfter": None, "operations": ["ListJobs"]}])
    assert batch.request("GET", "/jobs").headers["retry-after"] == "1"
    assert "retry-after" not in batch.request("GET", "/jobs").headers


@pytest.mark.parametrize("rule, status, code", [
    ({"status": 503}, 503, "ServerBusy"),
    ({"status": 500}, 500, "InternalError"),
    ({"status": 500, "code": "OperationTimedOut"}, 500, "OperationTimedOut"),
])
def test_server_errors(batch, rule, status, code):
    batch.control("POST", "faults", {**rule, "operations": ["Jobs_CreateJob"]})
    reply = batch.request("POST", "/jobs", {"id": "job", "poolInfo": {"poolId": "p"}})
    assert reply.status == status and reply.error_code == code and "retry-after" not in reply.headers
    assert batch.request("GET", "/jobs/job").status == 404
    batch.create_job("job")


def test_drop_closes_the_connection_unanswered_and_applies_nothing(batch):
    batch.control("POST", "faults", {"drop": 1, "operations": ["CreateJob"]})
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        batch.request("POST", "/jobs", {"id": "job", "poolInfo": {"poolId": "p"}})
    assert batch.request("GET", "/jobs/job").status == 404
    batch.create_job("job")


def test_delay_answers_late(batch):
    batch.control("POST", "faults", {"delay": 0.5, "count": 1, "operations": ["taskcounts"]})
    batch.create_job("job", pool_id="absent")
    started = time.monotonic()
    batch.task_counts("job")
    assert time.monotonic() - started >= 0.5
    started = time.monotonic()
    batch.task_counts("job")
    assert time.monotonic() - started < 0.5


def test_partial_collection_applies_the_first_tasks_then_drops(batch):
    batch.create_job("job", pool_id="absent")
    batch.control("POST", "faults", {"partial": 4})
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        batch.request("POST", "/jobs/job/addtaskcollection", _tasks(range(10)))
    assert batch.task_counts("job")["active"] == 4
    results = batch.add_tasks("job", _tasks(range(10))["value"])
    assert sorted(r["taskId"] for r in results if r["status"] == "clienterror") == ["0", "1", "2", "3"]
    assert all(r["error"]["code"] == "TaskExists" for r in results if r["status"] == "clienterror")
    stats = batch.control("GET", "stats")
    assert stats["maxTaskAdds"] == 1 and len(stats["taskAdds"]["job"]) == 10


def test_task_server_errors_answer_200_and_add_the_rest(batch):
    batch.create_job("job", pool_id="absent")
    batch.control("POST", "faults", {"taskServerError": 3})
    results = batch.add_tasks("job", _tasks(range(5))["value"])
    failed = [r for r in results if r["status"] == "servererror"]
    assert [r["taskId"] for r in failed] == ["0", "1", "2"]
    assert all(r["error"]["code"] == "ServerBusy" for r in failed)
    assert batch.task_counts("job")["active"] == 2
    assert all(r["status"] == "success" for r in batch.add_tasks("job", _tasks(range(3))["value"]))


def test_stats_count_every_request_by_operation(batch):
    batch.control("POST", "stats/reset")
    batch.control("POST", "faults", {"status": 429, "retryAfter": 1, "operations": ["Tasks_CreateTaskCollection"]})
    batch.create_job("job", pool_id="absent")
    batch.request("POST", "/jobs/job/addtaskcollection", _tasks(range(2)))
    batch.add_tasks("job", _tasks(range(2))["value"])
    batch.task_counts("job")
    batch.request("GET", "/jobs", sign=False)
    stats = batch.control("GET", "stats")
    assert stats["operations"] == {"Jobs_CreateJob": 1, "Tasks_CreateTaskCollection": 2, "Jobs_GetJobTaskCounts": 1,
                                   "Jobs_ListJobs": 1}
    assert stats["total"] == 5 and stats["taskAdds"] == {"job": {"0": 1, "1": 1}} and stats["maxTaskAdds"] == 1
    assert batch.control("POST", "stats/reset")["total"] == 0


def test_fault_rules_are_listed_validated_and_cleared(batch):
    listed = batch.control("POST", "faults", [{"status": 503, "count": 3}, {"drop": 2, "operations": ["GetJob"]}])
    assert listed == {"faults": [{"status": 503, "count": 3, "code": "ServerBusy"},
                                 {"drop": 2, "operations": ["getjob"]}]}
    for bad in ({"status": 503, "drop": 1}, {"status": 418}, {"delay": -1}, {"partial": 2, "operations": ["GetJob"]},
                {"drop": 1, "colour": "red"}):
        reply = batch.raw("POST", "/_emulator/faults", json.dumps(bad).encode(),
                          {"Content-Type": "application/json"})
        assert reply.status == 400 and "error" in reply.json, bad
    assert batch.control("DELETE", "faults") == {"faults": []}


def test_reset_forgets_everything(batch):
    batch.create_pool("pool")
    batch.create_job("job")
    batch.add_task("job", {"id": "sleeper", "commandLine": "/bin/sleep 60"})
    batch.control("POST", "faults", {"status": 503, "count": 5, "operations": ["GetPool"]})
    assert batch.control("POST", "reset") == {"reset": True}
    assert batch.request("GET", "/jobs/job").status == 404
    assert batch.request("GET", "/pools/pool").status == 404
    assert batch.control("GET", "stats")["total"] == 2
