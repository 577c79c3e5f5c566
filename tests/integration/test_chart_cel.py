"""charts/batch-offload: the MutatingWebhookConfiguration's matchConditions expression, as rendered,
evaluated by a real CEL implementation (@bufbuild/cel through tests/node/cel_eval.js) on Jobs as
kube-apiserver has them at mutating admission (the kubectl-made fixtures in tests/fixtures/admission).

It must be true for every Job carrying `batch-offload.io/enabled` with a value other than "false"
("true" is offloaded, any other value refused by the webhook as a typo), and false, never an error,
for every other Job: an evaluation error makes the API server apply failurePolicy (Fail) to the Job,
i.e. an ordinary Job without annotations would be refused whenever the webhook is unreachable, or
sent to it. The unguarded forms of the expression do fail that way, which is why the guards are
there."""
import copy
import json
import shutil
import subprocess

import pytest

from helm_chart import find, render
from repo_paths import REPO_ROOT, deps_binary_or_skip

NODE_DIR = REPO_ROOT / "tests" / "node"
CEL_EVAL = NODE_DIR / "cel_eval.js"
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "admission"
ENABLED = "batch-offload.io/enabled"
UNGUARDED = f"object.metadata.annotations['{ENABLED}'] != 'false'"
HALF_GUARDED = f"has(object.metadata.annotations) && object.metadata.annotations['{ENABLED}'] != 'false'"


def evaluate(cases):
    """[(expression, admission request)] -> [{"value": ...} or {"error": "..."}], in order."""
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "@bufbuild" / "cel").is_dir():
        pytest.skip("node or the npm package @bufbuild/cel is missing: run `make deps`")
    payload = {"cases": [{"expression": expression,
                          "bindings": {"object": request["object"], "oldObject": request.get("oldObject"),
                                       "request": {k: v for k, v in request.items() if k not in ("object", "oldObject")}}}
                         for expression, request in cases]}
    result = subprocess.run([node, str(CEL_EVAL)], input=json.dumps(payload), capture_output=True, text=True,
                            timeout=60, check=True)
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def expression():
    deps_binary_or_skip("helm")
    [webhook] = find(render(), "MutatingWebhookConfiguration")["webhooks"]
    [condition] = webhook["matchConditions"]
    assert condition["name"] == "batch-offload-enabled"
    return condition["expression"]


def request_of(fixture: str, annotations=...) -> dict:
    """The AdmissionRequest of a fixture; annotations=None removes the map, a dict replaces it."""
    request = json.loads((FIXTURES / f"{fixture}.json").read_text())["request"]
    if annotations is not ...:
        request = copy.deepcopy(request)
        metadata = request["object"]["metadata"]
        metadata.pop("annotations", None)
        if annotations is not None:
            metadata["annotations"] = annotations
    return request


JOBS = {
    # name: (request, what the expression must give)
    "enabled true": (lambda: request_of("kubectl-job"), True),
    "enabled true among other annotations": (lambda: request_of("cronjob-stamped"), True),
    "enabled false": (lambda: request_of("kubectl-job", {ENABLED: "false"}), False),
    # typos are sent, for the webhook to refuse naming the allowed values
    "enabled yes": (lambda: request_of("enabled-not-true"), True),
    "enabled True": (lambda: request_of("kubectl-job", {ENABLED: "True"}), True),
    "enabled empty": (lambda: request_of("kubectl-job", {ENABLED: ""}), True),
    "enabled FALSE (case matters)": (lambda: request_of("kubectl-job", {ENABLED: "FALSE"}), True),
    "other annotations only": (lambda: request_of("kubectl-job", {"team": "search",
                                                                  "batch-offload.io/pool": "spot-pool-1"}), False),
    "empty annotations map": (lambda: request_of("kubectl-job", {}), False),
    "no annotations map at all": (lambda: request_of("no-annotations"), False),
}


def test_fixtures_are_what_the_cases_say():
    assert "annotations" not in request_of("no-annotations")["object"]["metadata"]
    assert request_of("kubectl-job")["object"]["metadata"]["annotations"] == {ENABLED: "true"}
    assert request_of("enabled-not-true")["object"]["metadata"]["annotations"] == {ENABLED: "yes"}
    assert request_of("kubectl-job")["operation"] == "CREATE"


def test_expression_sends_jobs_with_enabled_but_not_false_and_never_errs(expression):
    names = list(JOBS)
    results = evaluate([(expression, JOBS[name][0]()) for name in names])
    outcomes = {name: result for name, result in zip(names, results)}
    assert outcomes == {name: {"value": JOBS[name][1]} for name in names}


def test_expression_avoids_optional_syntax(expression):
    """`.?key` / `[?key]` need the API server's CEL optional library, which depends on its version."""
    assert ".?" not in expression and "[?" not in expression
    assert "orValue" not in expression


def test_unguarded_expressions_fail_where_the_guards_protect(expression):
    """Without has(), a Job with no annotations map is an evaluation error; without the `in` check, a Job
    whose annotations lack the key is one. The chart's expression gives false for both."""
    no_map = request_of("no-annotations")
    other = request_of("kubectl-job", {"team": "search"})
    enabled = request_of("kubectl-job")
    unguarded_no_map, unguarded_other, half_no_map, half_other, unguarded_enabled, chart_no_map, chart_other = \
        evaluate([(UNGUARDED, no_map), (UNGUARDED, other), (HALF_GUARDED, no_map), (HALF_GUARDED, other),
                  (UNGUARDED, enabled), (expression, no_map), (expression, other)])
    assert "annotations" in unguarded_no_map.get("error", ""), unguarded_no_map
    assert ENABLED in unguarded_other.get("error", ""), unguarded_other
    assert half_no_map == {"value": False}      # has() alone covers a missing map...
    assert ENABLED in half_other.get("error", ""), half_other  # ...but not a map without the key
    assert unguarded_enabled == {"value": True}  # which is why the happy path never shows the problem
    assert chart_no_map == chart_other == {"value": False}
