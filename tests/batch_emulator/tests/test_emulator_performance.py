# The load the project benchmark puts on the emulator: 10,000 container tasks (worker image mapped to
# /bin/true) submitted 100 per addtaskcollection with 8 calls in flight, progress polled with
# taskcounts. It must finish well within the benchmark's budget on a shared 2-core machine.
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from batch_emulator.testing import Emulator

TASKS = 10_000
PER_CALL = 100
IN_FLIGHT = 8
BUDGET_SECONDS = 90


@pytest.fixture(scope="module")
def fast_emulator(tmp_path_factory):
    running = Emulator(tmp_path_factory.mktemp("performance"), slots=8,
                       image_map={"images": {"worker:1": {"entrypoint": ["/bin/true"]}}})
    yield running
    assert running.stop() == 0


def test_ten_thousand_tasks_run_within_budget(fast_emulator):
    client = fast_emulator.client()
    client.create_pool("pool", containers=True)
    client.create_job("job", usesTaskDependencies=True)
    clients = threading.local()

    def submit(first):
        if not hasattr(clients, "client"):
            clients.client = fast_emulator.client()
        results = clients.client.add_tasks("job", [
            {"id": str(i), "commandLine": "", "containerSettings": {"imageName": "worker:1"},
             "environmentSettings": [{"name": "JOB_COMPLETION_INDEX", "value": str(i)}],
             "constraints": {"maxTaskRetryCount": 2}} for i in range(first, first + PER_CALL)])
        return sum(result["status"] == "success" for result in results)

    started = time.monotonic()
    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        assert sum(pool.map(submit, range(0, TASKS, PER_CALL))) == TASKS
    polls = 0
    while True:
        counts = client.task_counts("job")
        polls += 1
        if counts["completed"] == TASKS or time.monotonic() - started > BUDGET_SECONDS:
            break
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    assert counts == {"active": 0, "running": 0, "completed": TASKS, "succeeded": TASKS, "failed": 0}
    assert elapsed < BUDGET_SECONDS
    stats = client.control("GET", "stats")
    assert stats["operations"]["Tasks_CreateTaskCollection"] == TASKS // PER_CALL
    assert stats["operations"]["Jobs_GetJobTaskCounts"] == polls
    assert stats["maxTaskAdds"] == 1
    print(f"\n{TASKS} tasks submitted and completed in {elapsed:.1f}s with {polls} polls")
