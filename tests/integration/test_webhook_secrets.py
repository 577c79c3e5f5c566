"""Secrets through the real webhook: a Job whose worker takes env values from Secrets is told where
they will be readable on Azure Batch (the Batch job's commonEnvironmentSettings), or refused with
--secret-env=deny; a Job with imagePullSecrets is told its registry password goes with every
task. The warnings come first, within Kubernetes' 256 characters each."""
import base64
import json

import pytest

from admission_fixtures import load_fixture
from k8s_schema import validate
from kubectl_patch import apply_json_patch

SECRETS_WARNING = (
    "spec.template.spec.containers[0] takes env values from Secrets (2 references, the first to "
    "\"app-secrets\"): on Azure Batch they are the Batch job's commonEnvironmentSettings, readable by "
    "anyone with read access to the Batch account")
PULL_WARNING = (
    "spec.template.spec.imagePullSecrets (\"acr-pull\" and 1 more): the registry password for the Job's "
    "images goes to Azure Batch with every task (containerSettings.registry), and every node of the pool "
    "logs in with it")
DENIAL = (
    "spec.template.spec.containers[0].env[1] (API_TOKEN) takes its value from Secret \"app-secrets\": this "
    "cluster does not offload Jobs whose worker takes env values from Secrets (the platform's "
    "--secret-env=deny): on Azure Batch they would be in the Batch job's commonEnvironmentSettings, "
    "readable by anyone with read access to the Batch account. Let the worker read its secrets itself, "
    "with an identity (README: Secrets)")


def allowed(webhook, review):
    response = webhook.review(review)["response"]
    assert response["allowed"] is True, response
    job = apply_json_patch(review["request"]["object"], json.loads(base64.b64decode(response["patch"])))
    assert validate(job, release="1.30") == []
    assert all(len(w) <= 256 for w in response.get("warnings", []))
    return response


def test_env_from_secrets_is_said_to_be_readable_on_batch(webhook):
    response = allowed(webhook, load_fixture("env-value-from"))
    assert response["warnings"][0] == SECRETS_WARNING


def test_image_pull_secrets_are_said_to_reach_every_task(webhook):
    response = allowed(webhook, load_fixture("image-pull-secrets"))
    assert PULL_WARNING in response["warnings"]


def test_a_job_without_secrets_gets_no_such_warning(webhook):
    assert "warnings" not in allowed(webhook, load_fixture("kubectl-job"))


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_the_platform_can_deny_env_from_secrets(start_webhook, how):
    webhook = (start_webhook("--secret-env", "deny") if how == "flag"
               else start_webhook(env={"BATCH_OFFLOAD_SECRET_ENV": "deny"}))
    response = webhook.review(load_fixture("env-value-from"))["response"]
    assert response["allowed"] is False and "patch" not in response
    assert (response["status"]["code"], response["status"]["message"]) == (403, DENIAL)
    # imagePullSecrets are the registry's, not the worker's env: warned about, not denied.
    assert PULL_WARNING in allowed(webhook, load_fixture("image-pull-secrets"))["warnings"]
    assert "warnings" not in allowed(webhook, load_fixture("kubectl-job"))


def test_secret_warnings_come_before_the_fields_batch_cannot_carry(webhook):
    review = load_fixture("dropped-fields")
    worker = review["request"]["object"]["spec"]["template"]["spec"]["containers"][0]
    worker["envFrom"] = [{"secretRef": {"name": "db"}}]
    warnings = allowed(webhook, review)["warnings"]
    assert warnings[0].startswith("spec.template.spec.containers[0] takes env values from Secrets (1 reference, "
                                  "the first to \"db\")")
    assert any("spec.template.spec.volumes" in w for w in warnings[1:])
