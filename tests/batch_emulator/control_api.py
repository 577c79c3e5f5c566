# The emulator's control endpoint for tests, outside the Batch namespace and without authentication:
#   POST   /_emulator/faults        a fault rule or a list of them (faults.py); answers {"faults": [pending]}
#   GET    /_emulator/faults        {"faults": [pending rules]}
#   DELETE /_emulator/faults        drops every pending rule
#   POST   /_emulator/preempt       {"jobId"?: id, "taskIds"?: [ids]}: requeue those running tasks (all if
#                                   omitted) as a node preemption does; answers {"preempted": [{jobId, taskId}]}
#   POST   /_emulator/pool-capacity {"resizeErrors": [{"code", "message"}, ...]}: every pool, those created
#                                   later too, has no nodes and shows these resizeErrors (what a core quota
#                                   or a spot shortage looks like); tasks wait. [] gives the nodes back
#   POST   /_emulator/reset         forget all pools, jobs (killing their processes), faults and stats
#   GET    /_emulator/stats         request_stats.py
#   POST   /_emulator/stats/reset   zero the stats
# Answers are application/json; a bad request gets 400 {"error": "..."}.
import json

from faults import parse_rule
from http_messages import Response
from wire_format import json_bytes


def _answer(status, document):
    return Response(status, {"Content-Type": "application/json"}, json_bytes(document))


class ControlApi:
    def __init__(self, scheduler, faults, stats):
        self.scheduler = scheduler
        self.account = scheduler.account
        self.faults = faults
        self.stats = stats
        self.routes = {("POST", "/_emulator/faults"): self.add_faults,
                       ("GET", "/_emulator/faults"): self.list_faults,
                       ("DELETE", "/_emulator/faults"): self.clear_faults,
                       ("POST", "/_emulator/preempt"): self.preempt,
                       ("POST", "/_emulator/pool-capacity"): self.pool_capacity,
                       ("POST", "/_emulator/reset"): self.reset,
                       ("GET", "/_emulator/stats"): self.get_stats,
                       ("POST", "/_emulator/stats/reset"): self.reset_stats}

    def handle(self, request):
        route = self.routes.get((request.method, request.raw_path.rstrip("/")))
        if route is None:
            return _answer(404, {"error": f"no control operation {request.method} {request.raw_path}"})
        try:
            document = json.loads(request.body) if request.body.strip() else None
            return route(document)
        except (ValueError, TypeError) as problem:
            return _answer(400, {"error": str(problem)})

    def add_faults(self, document):
        rules = [parse_rule(rule) for rule in (document if isinstance(document, list) else [document])]
        self.faults.add(rules)
        return self.list_faults(None)

    def list_faults(self, _document):
        return _answer(200, {"faults": self.faults.describe()})

    def clear_faults(self, _document):
        self.faults.clear()
        return self.list_faults(None)

    def preempt(self, document):
        document = document or {}
        if not isinstance(document, dict) or set(document) - {"jobId", "taskIds"}:
            raise ValueError("preempt takes {\"jobId\": id, \"taskIds\": [ids]}, both optional")
        with self.account.changed:
            preempted = self.account.preempt(document.get("jobId"), document.get("taskIds"))
        return _answer(200, {"preempted": preempted})

    def pool_capacity(self, document):
        errors = document.get("resizeErrors") if isinstance(document, dict) else None
        if set(document or {}) - {"resizeErrors"} or not isinstance(errors, list) or not all(
                isinstance(e, dict) and isinstance(e.get("code"), str) and isinstance(e.get("message"), str)
                for e in errors):
            raise ValueError("pool-capacity takes {\"resizeErrors\": [{\"code\": ..., \"message\": ...}]}")
        with self.account.changed:
            self.account.set_pool_resize_errors([{"code": e["code"], "message": e["message"]} for e in errors])
        return _answer(200, {"resizeErrors": errors})

    def reset(self, _document):
        self.scheduler.reset()
        self.faults.clear()
        self.stats.reset()
        return _answer(200, {"reset": True})

    def get_stats(self, _document):
        return _answer(200, self.stats.snapshot())

    def reset_stats(self, _document):
        self.stats.reset()
        return self.get_stats(None)
