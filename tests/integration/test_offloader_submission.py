"""How the work is handed to Batch: task collections kept under the service's 1 MB body limit when
the tasks are large, the Job's parallelism enforced by the Batch job, many tasks over several pages."""
import json

from offloader_process import (batch, list_tasks, offload_emulator, offloader, offloader_binary,  # noqa: F401
                               stats, task_report, worker_ids)


def test_large_tasks_are_split_under_the_body_limit(offloader, batch):
    # 40 KB of arguments per task: 100 tasks would be a 4 MB collection (the service refuses 1 MB)
    big = "x" * 40000
    spec = json.dumps({"container": {"name": "w", "args": [big, "end"]}})
    run = offloader.start(60, KEEPBATCHJOB="true", WORKERSPEC=spec, AGGREGATORIMAGENAME="probe:1").expect(0, 180)
    seen = stats(batch)
    assert seen["maxTaskAdds"] == 1
    assert set(seen["taskAdds"][run.env["JOBID"]]) == worker_ids(60) | {"aggregator"}
    assert seen["operations"]["Tasks_CreateTaskCollection"] >= 4, seen["operations"]
    assert task_report(batch, run.env["JOBID"], "59")["argv"] == [big, "end"]


def test_parallelism_caps_the_tasks_running_at_once(offloader, batch):
    spec = json.dumps({"parallelism": 2, "container": {"name": "w", "env": [
        {"name": "PROBE_SLEEP_SECONDS", "value": "0.5"}]}})
    run = offloader.start(6, KEEPBATCHJOB="true", WORKERSPEC=spec).expect(0, 120)
    tasks = list_tasks(batch, run.env["JOBID"])
    spans = sorted((t["executionInfo"]["startTime"], t["executionInfo"]["endTime"]) for t in tasks)
    for start, _ in spans:
        running = sum(1 for s, e in spans if s <= start < e)
        assert running <= 2, spans
