# The OData query options of Batch list operations: $filter, $select, maxresults and paging.
# $filter supports what Batch documents (learn.microsoft.com/rest/api/batchservice/odata-filters-in-batch):
# comparisons eq ne gt ge lt le on property paths such as state or executionInfo/result, and/or/not,
# parentheses, startswith(property, 'text'), string, number, boolean and datetime'...' literals, each
# list allowing only the properties and operators that page names for it (FILTERABLE). Anything else is
# refused with InvalidQueryParameterValue.
import re
from datetime import datetime
from urllib.parse import urlencode

from errors import BatchError, invalid_query
from wire_format import metadata_url

DEFAULT_MAX_RESULTS = 1000
_ORDERED = {"eq", "ne", "ge", "gt", "le", "lt"}
_ID = _ORDERED | {"startswith"}
_EQUALITY = {"eq", "ne"}
# Per list operation: property path -> the operators allowed on it (odata-filters-in-batch). Not
# filterable, so refused: everything else, e.g. a job's metadata or priority.
FILTERABLE = {
    "jobs": {"id": _ID, "state": _EQUALITY, "stateTransitionTime": _ORDERED, "creationTime": _ORDERED,
             "lastModified": _ORDERED, "executionInfo/startTime": _ORDERED, "executionInfo/endTime": _ORDERED,
             "executionInfo/poolId": _ID},
    "tasks": {"id": _ID, "state": _EQUALITY, "stateTransitionTime": _ORDERED, "creationTime": _ORDERED,
              "lastModified": _ORDERED, "executionInfo/startTime": _ORDERED, "executionInfo/endTime": _ORDERED,
              "executionInfo/exitCode": _ORDERED, "executionInfo/result": _EQUALITY},
    "pools": {"id": _ID, "state": _EQUALITY, "stateTransitionTime": _ORDERED, "allocationState": {"eq"},
              "allocationStateTransitionTime": _ORDERED, "creationTime": _ORDERED, "enableAutoScale": _EQUALITY,
              "lastModified": _ORDERED, "vmSize": _EQUALITY, "enableInterNodeCommunication": _EQUALITY},
    "supportedimages": {"osType": _EQUALITY, "verificationType": _EQUALITY, "nodeAgentSKUId": _EQUALITY},
}
_TOKEN = re.compile(r"\s*(?:(?P<open>\()|(?P<close>\))|(?P<comma>,)"
                    r"|datetime'(?P<datetime>[^']*)'|'(?P<string>(?:[^']|'')*)'"
                    r"|(?P<number>-?\d+(?:\.\d+)?)(?![\w/])|(?P<word>[A-Za-z_$][\w/.$]*))")
_COMPARISONS = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b,
                "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
                "lt": lambda a, b: a < b, "le": lambda a, b: a <= b}


def _as_datetime(text):
    return datetime.fromisoformat(text.rstrip("Z")[:26])


class _FilterParser:
    def __init__(self, text, filterable):
        self.text = text
        self.filterable = filterable
        self.tokens = []
        position = 0
        while position < len(text.rstrip()):
            match = _TOKEN.match(text, position)
            if match is None:
                raise self.error(f"unexpected text at position {position}")
            kind = match.lastgroup
            self.tokens.append((kind, match.group(kind).replace("''", "'") if kind == "string"
                                else match.group(kind)))
            position = match.end()
        self.position = 0

    def error(self, reason):
        return invalid_query("$filter", self.text, reason)

    def check_filterable(self, path, operator):
        # Choice: the Reason wording; the service's is not documented.
        allowed = self.filterable.get(path)
        if allowed is None:
            raise self.error(f"the property '{path}' cannot be used in a filter of this list")
        if operator not in allowed:
            raise self.error(f"'{operator}' cannot be used on '{path}'")

    def peek(self):
        return self.tokens[self.position] if self.position < len(self.tokens) else (None, None)

    def take(self, kind=None, word=None):
        token = self.peek()
        if token[0] is None or (kind and token[0] != kind) or (word and token[1].lower() != word):
            raise self.error(f"expected {word or kind}")
        self.position += 1
        return token[1]

    def parse(self):
        predicate = self.disjunction()
        if self.position != len(self.tokens):
            raise self.error("unexpected trailing text")
        return predicate

    def disjunction(self):
        terms = [self.conjunction()]
        while self.peek()[0] == "word" and self.peek()[1].lower() == "or":
            self.take()
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else (lambda item: any(term(item) for term in terms))

    def conjunction(self):
        terms = [self.negation()]
        while self.peek()[0] == "word" and self.peek()[1].lower() == "and":
            self.take()
            terms.append(self.negation())
        return terms[0] if len(terms) == 1 else (lambda item: all(term(item) for term in terms))

    def negation(self):
        if self.peek()[0] == "word" and self.peek()[1].lower() == "not":
            self.take()
            inner = self.negation()
            return lambda item: not inner(item)
        return self.primary()

    def primary(self):
        kind, value = self.peek()
        if kind == "open":
            self.take()
            inner = self.disjunction()
            self.take("close")
            return inner
        if kind == "word" and value.lower() == "startswith":
            self.take()
            self.take("open")
            path = self.take("word")
            self.check_filterable(path, "startswith")
            self.take("comma")
            prefix = self.take("string")
            self.take("close")
            return lambda item: str(_lookup(item, path) or "").startswith(prefix)
        path = self.take("word")
        operator = self.take("word").lower()
        if operator not in _COMPARISONS:
            raise self.error(f"unsupported operator '{operator}'")
        self.check_filterable(path, operator)
        literal_kind, literal = self.peek()
        self.take()
        compare = _COMPARISONS[operator]
        if literal_kind == "datetime":
            moment = _as_datetime(literal)
            return lambda item: _lookup(item, path) is not None and compare(
                _as_datetime(_lookup(item, path)), moment)
        if literal_kind == "number":
            number = float(literal)
            return lambda item: isinstance(_lookup(item, path), (int, float)) and compare(
                _lookup(item, path), number)
        if literal_kind == "word" and literal.lower() in ("true", "false"):
            flag = literal.lower() == "true"
            return lambda item: compare(_lookup(item, path), flag)
        if literal_kind != "string":
            raise self.error("expected a literal after the operator")
        return lambda item: _lookup(item, path) is not None and compare(_lookup(item, path), literal)


def _lookup(item, path):
    for name in path.split("/"):
        if not isinstance(item, dict):
            return None
        item = item.get(name)
    return item


def compile_filter(text, filterable):
    """A predicate over rendered resources (dicts); None when there is no $filter. filterable: FILTERABLE[list]."""
    if not text:
        return None
    return _FilterParser(text, filterable).parse()


def apply_select(document, select):
    if not select:
        return document
    wanted = {name.strip() for name in select.split(",")}
    return {key: value for key, value in document.items() if key in wanted}


def max_results(request):
    text = request.query_value("maxresults")
    if text is None:
        return DEFAULT_MAX_RESULTS
    if not re.fullmatch(r"\d+", text):
        raise invalid_query("maxresults", text, "maxresults must be an integer.")
    if not 1 <= int(text) <= DEFAULT_MAX_RESULTS:
        raise BatchError(400, "OutOfRangeQueryParameterValue",
                         [("QueryParameterName", "maxresults"), ("QueryParameterValue", text),
                          ("Reason", "maxresults must be between 1 and 1000.")])
    return int(text)


def list_page(request, items, render, metadata_fragment):
    """One page of a list operation: {"odata.metadata", "value", "odata.nextLink"?}.

    items is the resource collection in a stable order; $skiptoken is the position to resume from, so
    a page never skips items that exist in the same order."""
    predicate = compile_filter(request.query_value("$filter"), FILTERABLE[metadata_fragment])
    select = request.query_value("$select")
    limit = max_results(request)
    token = request.query_value("$skiptoken") or "0"
    if not token.isdigit():
        raise invalid_query("$skiptoken", token, "not a token this service issued")
    position, page = int(token), []
    while position < len(items) and len(page) < limit:
        document = render(items[position])
        position += 1
        if predicate is None or predicate(document):
            page.append(apply_select(document, select))
    body = {"odata.metadata": metadata_url(request.base_url, metadata_fragment), "value": page}
    if position < len(items):
        body["odata.nextLink"] = _next_link(request, position)
    return body


def _next_link(request, position):
    query = [(name, value) for name, value in request.query if name != "$skiptoken"]
    query.append(("$skiptoken", str(position)))
    return f"{request.base_url}{request.raw_path}?{urlencode(query, safe='$/,')}"
