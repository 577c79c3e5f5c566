# The emulator's control endpoint for tests, outside the Batch namespace and without authentication:
#   POST   /_emulator/faults        a fault rule or a list of them (faults.py); answers {"faults": [pending]}
#   GET    /_emulator/faults        {"faults": [pending rules]}
#   DELETE /_emulator/faults        drops every pending rule
#   POST   /_emulator/preempt       {"jobId"?: id, "taskIds"?: [ids]}: requeue those running tasks (all if
#                                   omitted) as a node preemption does; answers {"preempted": [{jobId, taskId}]}
#   POST   /_emulator/pool-capacity {"resizeErrors": [{"code", "message"}, ...]}: every pool, those created
#                                   later too, has no nodes and shows these resizeErrors (what a core quota
#                                   or a spot shortage looks like); tasks wait. [] gives the nodes back
#   GET    /_emulator/account       what the account offers (account_offer.py): {"poolAllocationMode",
#                                   "vmSizes": [{"name", "vCPUs", "gpus"}], "images": [BatchSupportedImage],
#                                   "spot": "available" | "noCapacity" | "noQuota"}
#   POST   /_emulator/account       the same fields, each optional: replaces those given; answers the offer
#   POST   /_emulator/reset         forget all pools, jobs (killing their processes), faults, stats and the
#                                   account's offer (back to the defaults)
#   GET    /_emulator/stats         request_stats.py
#   POST   /_emulator/stats/reset   zero the stats
# Answers are application/json; a bad request gets 400 {"error": "..."}.
import json

from errors import BatchError
from faults import parse_rule
from http_messages import Response
from wire_format import json_bytes

SUPPORTED_IMAGE_DEFINITION = "BatchSupportedImage"


def _answer(status, document):
    return Response(status, {"Content-Type": "application/json"}, json_bytes(document))


class ControlApi:
    def __init__(self, scheduler, faults, stats, validator):
        self.scheduler = scheduler
        self.validator = validator
        self.account = scheduler.account
        self.faults = faults
        self.stats = stats
        self.routes = {("POST", "/_emulator/faults"): self.add_faults,
                       ("GET", "/_emulator/faults"): self.list_faults,
                       ("DELETE", "/_emulator/faults"): self.clear_faults,
                       ("POST", "/_emulator/preempt"): self.preempt,
                       ("POST", "/_emulator/pool-capacity"): self.pool_capacity,
                       ("GET", "/_emulator/account"): self.get_account,
                       ("POST", "/_emulator/account"): self.set_account,
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

    def get_account(self, _document):
        with self.account.changed:
            return _answer(200, self.account.offer.describe())

    def set_account(self, document):
        with self.account.changed:
            self.account.set_offer(self.account.offer.updated(document, self._check_image))
            return _answer(200, self.account.offer.describe())

    def _check_image(self, image):
        try:
            self.validator.check(SUPPORTED_IMAGE_DEFINITION, image)
        except BatchError as problem:
            raise ValueError(f"not a {SUPPORTED_IMAGE_DEFINITION}: {dict(problem.values)}") from None

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
