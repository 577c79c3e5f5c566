# Request counters for tests and the benchmark (GET /_emulator/stats): every Batch request received,
# per operationId, whatever its outcome (faulted, refused, failed authentication included), how
# many times each task id was successfully created (must stay 1: a client that re-sends after a lost
# answer must not create a task twice), and the Entra ID access tokens issued, per grant.
import collections
import threading

TOKEN_KINDS = ("client_secret", "client_assertion", "imds")


class RequestStats:
    def __init__(self):
        self._lock = threading.Lock()
        self._by_operation = collections.Counter()
        self._task_adds = collections.defaultdict(collections.Counter)
        self._tokens = collections.Counter()

    def count_request(self, operation_id):
        with self._lock:
            self._by_operation[operation_id] += 1

    def count_tasks_added(self, job_id, task_ids):
        with self._lock:
            self._task_adds[job_id].update(task_ids)

    def count_token(self, kind):
        with self._lock:
            self._tokens[kind] += 1

    def snapshot(self):
        with self._lock:
            return {"total": sum(self._by_operation.values()),
                    "operations": dict(sorted(self._by_operation.items())),
                    "taskAdds": {job: dict(counts) for job, counts in self._task_adds.items()},
                    "maxTaskAdds": max((max(counts.values()) for counts in self._task_adds.values()), default=0),
                    "tokens": {kind: self._tokens[kind] for kind in TOKEN_KINDS}}

    def reset(self):
        with self._lock:
            self._by_operation.clear()
            self._task_adds.clear()
            self._tokens.clear()
