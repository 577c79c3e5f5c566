"""Every patch the webhook produces, applied with the API server's own patch
code (kubectl patch --local) and the result validated against the official
batch/v1 schemas of the oldest (1.30) and newest (1.35) releases we target,
unknown fields rejected; plus the cross-field rules the API server checks
outside the schema, idempotence, and where each Job's data goes in Blob storage."""
import base64
import copy
import json

import pytest

from admission_fixtures import load_fixture
from k8s_schema import validate
from kubectl_patch import apply_json_patch

OPTED_IN = ["kubectl-job", "generate-name", "indexed", "env-value-from", "image-pull-secrets",
            "cronjob-stamped", "cronjob-run", "all-annotations", "dropped-fields",
            "sample-job-create-root-user", "sample-job-create-no-securitycontext", "v1beta1",
            "dry-run"]
LEFT_ALONE = ["no-annotations", "pod"]


def patched(webhook, name):
    review = load_fixture(name)
    answer = webhook.review(review)
    response = answer["response"]
    assert answer["apiVersion"] == review["apiVersion"]
    assert response["uid"] == review["request"]["uid"]
    assert response["allowed"] is True
    assert response["patchType"] == "JSONPatch"
    patch = json.loads(base64.b64decode(response["patch"]))
    job = review["request"]["object"]
    return job, apply_json_patch(job, patch), response


def check_cross_field_rules(job):
    """What kube-apiserver's Job validation checks in Go code (pkg/apis/batch/validation)."""
    spec = job["spec"]
    pod = spec["template"]["spec"]
    assert spec["completionMode"] == "NonIndexed"
    for indexed_only in ("backoffLimitPerIndex", "maxFailedIndexes", "successPolicy"):
        assert indexed_only not in spec
    assert spec["completions"] == 1 and spec["parallelism"] == 1
    # podFailurePolicy needs restartPolicy Never, and its rules name real containers.
    assert pod["restartPolicy"] == "Never"
    names = {c["name"] for c in pod["containers"]}
    for rule in spec["podFailurePolicy"]["rules"]:
        if "onExitCodes" in rule:
            assert rule["onExitCodes"]["containerName"] in names
            assert 0 not in rule["onExitCodes"]["values"]
            assert rule["onExitCodes"]["values"] == sorted(set(rule["onExitCodes"]["values"]))
    assert spec["podReplacementPolicy"] == "Failed"
    # Environment variable names the kubelet accepts; valueFrom has one source.
    for env in pod["containers"][0]["env"]:
        assert ("value" in env) != ("valueFrom" in env)
        if "valueFrom" in env:
            assert len(env["valueFrom"]) == 1
    # A pod may mount its token only when workload identity asks for it.
    assert pod["automountServiceAccountToken"] is False


@pytest.mark.parametrize("name", OPTED_IN)
def test_patched_job_is_valid_for_the_api_server(webhook, name):
    original, job, _ = patched(webhook, name)
    for release in ("1.30", "1.35"):
        assert validate(job, release=release) == [], release
    check_cross_field_rules(job)
    pod = job["spec"]["template"]["spec"]
    assert len(pod["containers"]) == 1
    container = pod["containers"][0]
    assert container["image"] == "registry.example.com/batch-offload/offloader:0.1.0"
    security = container["securityContext"]
    assert security["runAsNonRoot"] and security["readOnlyRootFilesystem"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["resources"]["requests"] == {"cpu": "10m", "memory": "16Mi"}
    # The user's own metadata survives the rewrite.
    assert job["metadata"] == original["metadata"]
    assert job["spec"]["template"]["metadata"]["annotations"]["batch-offload.io/offloader"]
    # Nothing secret is inlined: the credentials are the platform's Secret, by reference.
    env = {e["name"]: e for e in container["env"]}
    for secret in ("BATCHPASSWORD", "STORAGEKEY", "REGISTRYPASSWORD"):
        assert secret not in env
    assert container["envFrom"][0] == {"secretRef": {"name": "batch-offload-credentials", "optional": True}}
    # The worker spec the offloader reads is the original container, intact
    # once the kubelet has turned "$$" back into "$".
    spec = json.loads(env["WORKERSPEC"]["value"].replace("$$", "$"))
    assert spec["container"] == original["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("name", LEFT_ALONE)
def test_jobs_not_opted_in_get_no_patch(webhook, name):
    review = load_fixture(name)
    response = webhook.review(review)["response"]
    assert response == {"uid": review["request"]["uid"], "allowed": True}


def test_a_rewritten_job_is_not_rewritten_again(webhook):
    review = load_fixture("kubectl-job")
    _, job, _ = patched(webhook, "kubectl-job")
    again = copy.deepcopy(review)
    again["request"]["object"] = job
    again["request"]["uid"] = "second-request"
    response = webhook.review(again)["response"]
    assert response == {"uid": "second-request", "allowed": True}


def test_dry_run_gets_the_same_answer(webhook):
    dry = load_fixture("dry-run")
    wet = copy.deepcopy(dry)
    wet["request"]["dryRun"] = False
    assert webhook.review(dry)["response"] == webhook.review(wet)["response"]


def test_template_without_metadata_or_annotations_is_patched_in_place(webhook):
    review = load_fixture("kubectl-job")
    del review["request"]["object"]["spec"]["template"]["metadata"]
    response = webhook.review(review)["response"]
    job = apply_json_patch(review["request"]["object"],
                           json.loads(base64.b64decode(response["patch"])))
    assert validate(job, release="1.30") == []
    review = load_fixture("kubectl-job")
    review["request"]["object"]["spec"]["template"]["metadata"]["annotations"] = {"a": "b"}
    response = webhook.review(review)["response"]
    job = apply_json_patch(review["request"]["object"],
                           json.loads(base64.b64decode(response["patch"])))
    assert job["spec"]["template"]["metadata"]["annotations"]["a"] == "b"


def test_warnings_reach_kubectl(webhook):
    response = webhook.review(load_fixture("dropped-fields"))["response"]
    warnings = response["warnings"]
    assert any("spec.template.spec.volumes" in w for w in warnings)
    assert any("containers[1] (\"log-shipper\")" in w for w in warnings)
    assert all(len(w) <= 256 for w in warnings)


def test_denial_names_annotation_value_and_what_is_allowed(webhook):
    review = load_fixture("kubectl-job")
    review["request"]["object"]["metadata"]["annotations"]["batch-offload.io/priority"] = "fast"
    response = webhook.review(review)["response"]
    assert response["allowed"] is False
    assert response["status"]["code"] == 400
    assert response["status"]["message"] == (
        'annotation batch-offload.io/priority has value "fast": allowed is "spot" or '
        '"dedicated"')
    assert "patch" not in response


def denial(webhook, review):
    response = webhook.review(review)["response"]
    assert response["allowed"] is False
    assert "patch" not in response
    return response["status"]["code"], response["status"]["message"]


@pytest.mark.parametrize("flags, completions, message", [
    ([], 20000, "spec.completions is 20000: this cluster offloads Jobs of at most 10000 completions "
                "(the platform's --max-completions)"),
    (["--max-completions", "100000"], 100001,
     "spec.completions is 100001: no Job of more than 100000 completions is offloaded (the hard limit, "
     "Kubernetes' own for Indexed Jobs)"),
    (["--max-completions", "500"], 250000,
     "spec.completions is 250000: this cluster offloads Jobs of at most 500 completions (the platform's "
     "--max-completions); 100000 is the hard limit, Kubernetes' own for Indexed Jobs"),
])
def test_completions_over_a_limit_are_denied_naming_the_limit(start_webhook, flags, completions, message):
    webhook = start_webhook(*flags)
    review = load_fixture("kubectl-job")
    review["request"]["object"]["spec"]["completions"] = completions
    assert denial(webhook, review) == (400, message)


def test_the_hard_completions_limit_itself_is_offloaded(start_webhook):
    webhook = start_webhook("--max-completions", "100000")
    review = load_fixture("kubectl-job")
    review["request"]["object"]["spec"]["completions"] = 100000
    response = webhook.review(review)["response"]
    assert response["allowed"] is True
    job = apply_json_patch(review["request"]["object"], json.loads(base64.b64decode(response["patch"])))
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["COMPLETIONS"] == "100000"


def offloader_env(job):
    return {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}


@pytest.mark.parametrize("name, outputs, inputs", [
    ("kubectl-job", "default/wordcount", None),                             # as before: one prefix
    ("generate-name", "default/$(BATCH_OFFLOAD_JOB_NAME)", None),
    ("cronjob-run", "reports/nightly/runs/nightly-29395320", "reports/nightly"),  # each run its own
    ("cronjob-stamped", "reports/nightly", None),                           # a fixed blob-prefix
    ("all-annotations", "teams/search/mapreduce", "teams/search/corpus"),
])
def test_outputs_and_inputs_prefixes(webhook, name, outputs, inputs):
    _, job, response = patched(webhook, name)
    env = offloader_env(job)
    assert env["BLOBPREFIX"] == outputs
    assert env.get("INPUTPREFIX") == inputs
    assert env.get("INPUTS") == ("required" if name == "all-annotations" else None)


def test_a_fixed_blob_prefix_on_a_cronjob_run_is_warned(webhook):
    _, _, response = patched(webhook, "cronjob-stamped")
    assert response["warnings"] == [
        "batch-offload.io/blob-prefix is the same for every run of CronJob nightly: each run "
        "overwrites the last one's outputs and logs; without it each run gets "
        "reports/nightly/runs/<job name>"]
    _, _, response = patched(webhook, "cronjob-run")
    assert "warnings" not in response


def test_inputs_other_than_required_or_optional_are_denied(webhook):
    review = load_fixture("kubectl-job")
    review["request"]["object"]["metadata"]["annotations"]["batch-offload.io/inputs"] = "maybe"
    response = webhook.review(review)["response"]
    assert response["allowed"] is False and response["status"]["code"] == 400
    assert response["status"]["message"] == (
        'annotation batch-offload.io/inputs has value "maybe": allowed is "required" or '
        '"optional"')
