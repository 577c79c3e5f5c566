# The Batch REST operation table, read from third_party/azure-batch/operations.txt (derived from the
# official spec): maps a request's method and path to its operationId, path parameters and the
# spec definition its body must match.
import re
from dataclasses import dataclass
from urllib.parse import unquote


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    operation_id: str
    body_definition: str | None
    pattern: re.Pattern
    literal_length: int          # characters outside {parameters}: the more, the more specific

    @property
    def last_literal_segment(self):
        """e.g. "addtaskcollection" for /jobs/{jobId}/addtaskcollection; None if it ends in a parameter."""
        last = self.template.rstrip("/").rsplit("/", 1)[-1]
        return None if "{" in last else last


def _compile(template):
    # filePath may span several segments (wd/out/part-0.txt); every other parameter is one segment.
    regex, position = "", 0
    for match in re.finditer(r"\{(\w+)\}", template):
        regex += re.escape(template[position:match.start()])
        name = match.group(1)
        regex += f"(?P<{name}>.+)" if name == "filePath" else f"(?P<{name}>[^/]+)"
        position = match.end()
    regex += re.escape(template[position:])
    literal_length = len(re.sub(r"\{\w+\}", "", template))
    return re.compile(f"^{regex}$"), literal_length


class OperationTable:
    def __init__(self, operations_txt_path):
        self.operations = []
        with open(operations_txt_path, encoding="utf-8") as listing:
            for line in listing:
                fields = line.split()
                if not fields:
                    continue
                method, template, operation_id = fields[0], fields[1], fields[2]
                body_definition = fields[4] if len(fields) > 4 else None
                pattern, literal_length = _compile(template)
                self.operations.append(Operation(method, template, operation_id, body_definition,
                                                 pattern, literal_length))
        # Most specific first, so /jobs/{jobId}/tasks wins over nothing and literals beat parameters.
        self.operations.sort(key=lambda op: -op.literal_length)
        self.by_id = {op.operation_id: op for op in self.operations}

    def match(self, method, raw_path):
        """(operation, decoded path parameters) or raises LookupError("path") / LookupError("method")."""
        path_matched = False
        for operation in self.operations:
            found = operation.pattern.match(raw_path)
            if found is None:
                continue
            path_matched = True
            if operation.method == method:
                return operation, {name: unquote(value) for name, value in found.groupdict().items()}
        raise LookupError("method" if path_matched else "path")
