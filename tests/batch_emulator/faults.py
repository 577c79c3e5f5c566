# Fault injection for client tests, configured through POST /_emulator/faults. Each rule applies to
# the next `count` Batch requests whose operation it names (all operations when "operations" is absent):
#   {"status": 429, "count": N, "retryAfter": S, "code": C}  answer with that error instead
#        (codes by default: 429 TooManyRequests, 500 InternalError, 503 ServerBusy; Retry-After: S seconds
#        when given, 1 for a 429 without retryAfter, none with "retryAfter": null)
#   {"drop": N}                    read the request, then close the connection without answering
#   {"delay": S, "count": N}       answer normally, S seconds late
#   {"partial": K, "count": N}     addtaskcollection only: add the first K tasks, then close unanswered
#   {"taskServerError": K, "count": N}  addtaskcollection only: answer 200, the first K tasks with
#                                  status "servererror" (ServerBusy) and not added, the rest as usual
# An operation is named by its operationId ("Tasks_CreateTaskCollection"), that id without its group
# ("CreateTaskCollection") or the last literal segment of its path ("addtaskcollection"), any case.
# Faulted requests are not applied (except the first K tasks of a partial) but are counted in the stats.
import threading
from dataclasses import dataclass

DEFAULT_ERROR_CODES = {429: "TooManyRequests", 500: "InternalError", 503: "ServerBusy"}
DEFAULT_RETRY_AFTER_SECONDS = 1       # for 429 unless the rule says otherwise ("retryAfter": null: none)
COLLECTION_OPERATION = "Tasks_CreateTaskCollection"
KINDS = ("status", "drop", "delay", "partial", "taskServerError")


@dataclass
class FaultRule:
    kind: str                 # "status" | "drop" | "delay" | "partial" | "taskServerError"
    remaining: int
    operations: tuple         # lowercased names; empty = every operation
    status: int = None
    code: str = None
    retry_after: float = None
    delay: float = None
    partial: int = None
    taskServerError: int = None

    def matches(self, operation):
        if not self.operations:
            return True
        names = {operation.operation_id.lower(), operation.operation_id.split("_", 1)[-1].lower(),
                 (operation.last_literal_segment or "").lower()}
        return any(name in names for name in self.operations)

    def describe(self):
        """The rule as posted, with the count still to go."""
        if self.kind == "drop":
            described = {"drop": self.remaining}
        else:
            described = {self.kind: getattr(self, self.kind), "count": self.remaining}
        if self.kind == "status":
            described["code"] = self.code
            if self.retry_after is not None:
                described["retryAfter"] = self.retry_after
        if self.operations:
            described["operations"] = list(self.operations)
        return described


def _number(document, key, minimum, integer):
    value = document[key]
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)) or value < minimum:
        raise ValueError(f"'{key}' must be {'an integer' if integer else 'a number'} >= {minimum}")
    return value


def parse_rule(document):
    if not isinstance(document, dict):
        raise ValueError("a fault rule is a JSON object")
    kinds = [kind for kind in KINDS if kind in document]
    if len(kinds) != 1:
        raise ValueError(f"a fault rule has exactly one of {', '.join(repr(kind) for kind in KINDS)}")
    unknown = set(document) - {*KINDS, "count", "retryAfter", "code", "operations"}
    if unknown:
        raise ValueError(f"unknown fault rule field(s): {', '.join(sorted(unknown))}")
    operations = document.get("operations", [])
    if not isinstance(operations, list) or not all(isinstance(name, str) for name in operations):
        raise ValueError("'operations' must be a list of operation names")
    kind = kinds[0]
    count = _number(document, "count", 1, True) if "count" in document else 1
    rule = FaultRule(kind, count, tuple(name.lower() for name in operations))
    if kind == "status":
        rule.status = _number(document, "status", 400, True)
        rule.code = document.get("code") or DEFAULT_ERROR_CODES.get(rule.status)
        if not isinstance(rule.code, str):
            raise ValueError(f"give a 'code' for status {rule.status}")
        if document.get("retryAfter") is not None:
            rule.retry_after = _number(document, "retryAfter", 0, False)
        elif rule.status == 429 and "retryAfter" not in document:
            rule.retry_after = DEFAULT_RETRY_AFTER_SECONDS
    elif kind == "drop":
        rule.remaining = _number(document, "drop", 1, True)
    elif kind == "delay":
        rule.delay = _number(document, "delay", 0, False)
    else:       # partial, taskServerError: about the tasks of a collection
        setattr(rule, kind, _number(document, kind, 0, True))
        if operations and any(name not in ("tasks_createtaskcollection", "createtaskcollection", "addtaskcollection")
                              for name in rule.operations):
            raise ValueError(f"a {kind} fault applies to addtaskcollection only")
        rule.operations = (COLLECTION_OPERATION.lower(),)
    return rule


class FaultInjector:
    def __init__(self):
        self._lock = threading.Lock()
        self._rules = []

    def add(self, rules):
        with self._lock:
            self._rules.extend(rules)

    def take(self, operation):
        """The first pending rule for this operation, using up one of its count; None if none."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(operation):
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        self._rules.remove(rule)
                    return rule
        return None

    def describe(self):
        with self._lock:
            return [rule.describe() for rule in self._rules]

    def clear(self):
        with self._lock:
            self._rules.clear()
