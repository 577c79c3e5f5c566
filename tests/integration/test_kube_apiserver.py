"""The webhook behind a real kube-apiserver (tests/lib/control_plane.py), registered through the
MutatingWebhookConfiguration the chart renders: `kubectl apply` of the example Job stores the
offloader Job, an ordinary Job never reaches the webhook (the chart's matchConditions, evaluated by
the API server) and is stored as sent, the Job controller makes the offloader's pod from what was
stored, and kubectl shows the webhook's warnings and denials. Needs BATCH_OFFLOAD_KUBE_ASSETS:
skipped, saying so, without it."""
import base64
import json
from pathlib import Path

import pytest

import k8s_yaml
from batch_emulator.testing import wait_until
from control_plane import ASSETS_VARIABLE, ControlPlaneError, kube_assets
from helm_chart import find, render
from repo_paths import REPO_ROOT
from webhook_process import DEFAULT_IMAGE as OFFLOADER_IMAGE

MANIFEST = REPO_ROOT / "examples" / "wordcount" / "job.yaml"
CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
ENABLED = "batch-offload.io/enabled"


def example_job(name: str) -> dict:
    """The README's example Job (annotated) under another name."""
    [job] = k8s_yaml.load_documents(MANIFEST.read_text())
    job["metadata"]["name"] = name
    return job


def only_container(job_or_pod: dict) -> dict:
    spec = job_or_pod["spec"].get("template", job_or_pod)["spec"]
    [container] = spec["containers"]
    return container


def chart_webhook_configuration(webhook) -> dict:
    """The chart's MutatingWebhookConfiguration for the webhook under test. The one change: the API
    server runs on this machine, not in the cluster, so clientConfig is the webhook's loopback URL
    instead of the chart's Service; rules, namespaceSelector and matchConditions are the chart's."""
    ca_bundle = base64.b64encode(Path(webhook.ca).read_bytes()).decode()
    config = find(render({"certificates": {"mode": "provided", "provided": {
        "secretName": "unused-here", "caBundle": ca_bundle}}}), "MutatingWebhookConfiguration")
    [hook] = config["webhooks"]
    hook["clientConfig"] = {"url": f"https://127.0.0.1:{webhook.port}/mutate", "caBundle": ca_bundle}
    return config


def admitted_names(webhook) -> list:
    return [entry.get("name") for entry in webhook.log_entries("admission")]


@pytest.fixture
def registered_webhook(control_plane, start_webhook, namespace):
    webhook = start_webhook()
    config = chart_webhook_configuration(webhook)
    control_plane.apply(config)

    # The API server takes a new configuration up asynchronously: a server-side dry run shows
    # when Jobs go through this webhook.
    def rewrites():
        probe = control_plane.kubectl("create", "--dry-run=server", "-n", namespace, "-o", "json",
                                      "-f", "-", input=json.dumps(example_job("probe")), check=False)
        return probe.returncode == 0 and only_container(json.loads(probe.stdout))["image"] == OFFLOADER_IMAGE
    wait_until(rewrites, timeout=30, interval=0.2, what="the API server to call the webhook")
    yield webhook
    control_plane.kubectl("delete", "mutatingwebhookconfiguration", config["metadata"]["name"])


def test_kubectl_apply_of_the_example_stores_the_offloader_job(control_plane, registered_webhook, namespace):
    control_plane.kubectl("apply", "-n", namespace, "-f", str(MANIFEST))

    job = control_plane.get("job", "wordcount", namespace)
    spec = job["spec"]
    assert (spec["completions"], spec["parallelism"], spec["podReplacementPolicy"]) == (1, 1, "Failed")
    fail_job, ignore_disruption = spec["podFailurePolicy"]["rules"]
    assert fail_job == {"action": "FailJob", "onExitCodes": {
        "containerName": "batch-offloader", "operator": "In", "values": [1, 2]}}
    assert ignore_disruption["action"] == "Ignore"
    container = only_container(job)
    assert (container["name"], container["image"]) == ("batch-offloader", OFFLOADER_IMAGE)
    env = {e["name"]: e for e in container["env"]}
    sent = example_job("wordcount")
    assert env["COMPLETIONS"]["value"] == str(sent["spec"]["completions"])
    assert env["WORKERIMAGENAME"]["value"] == only_container(sent)["image"]
    # The Batch job id is read from a label the API server adds only after admission: it is there.
    assert any(CONTROLLER_UID in e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath", "")
               for e in container["env"])
    assert spec["template"]["metadata"]["labels"][CONTROLLER_UID] == job["metadata"]["uid"]
    assert job["metadata"]["annotations"][ENABLED] == "true"
    assert admitted_names(registered_webhook).count("wordcount") == 1


def test_a_job_without_the_annotation_never_reaches_the_webhook(control_plane, registered_webhook, namespace):
    sent = example_job("plain")
    del sent["metadata"]["annotations"][ENABLED]
    control_plane.apply(sent, namespace)

    job = control_plane.get("job", "plain", namespace)
    assert (job["spec"]["completions"], job["spec"]["parallelism"]) == (
        sent["spec"]["completions"], sent["spec"]["parallelism"])
    assert "podFailurePolicy" not in job["spec"]
    stored, original = only_container(job), only_container(sent)
    assert (stored["name"], stored["image"], stored["args"]) == (original["name"], original["image"], original["args"])
    assert "plain" not in admitted_names(registered_webhook)


def test_the_job_controller_makes_the_offloader_pod(control_plane, registered_webhook, namespace):
    sent = example_job("counted")
    control_plane.apply(sent, namespace)
    uid = control_plane.get("job", "counted", namespace)["metadata"]["uid"]

    pods = wait_until(lambda: control_plane.get("pods", namespace=namespace, selector=f"{CONTROLLER_UID}={uid}"),
                      timeout=30, interval=0.2, what="the Job controller to create the pod")
    [pod] = pods
    container = only_container(pod)
    assert (container["name"], container["image"]) == ("batch-offloader", OFFLOADER_IMAGE)
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["COMPLETIONS"] == str(sent["spec"]["completions"])
    assert env["WORKERIMAGENAME"] == only_container(sent)["image"]
    assert pod["metadata"]["labels"][CONTROLLER_UID] == uid
    assert pod["status"]["phase"] == "Pending"  # no scheduler, no kubelet


def test_kubectl_shows_the_warnings_and_the_denials(control_plane, registered_webhook, namespace):
    with_volume = example_job("with-volume")
    with_volume["spec"]["template"]["spec"]["volumes"] = [{"name": "scratch", "emptyDir": {}}]
    applied = control_plane.apply(with_volume, namespace)
    assert "Warning: spec.template.spec.volumes is not carried to Azure Batch" in applied.stderr

    bad = example_job("bad-priority")
    bad["metadata"]["annotations"]["batch-offload.io/priority"] = "cheap"
    refused = control_plane.apply(bad, namespace, check=False)
    assert refused.returncode != 0
    assert 'admission webhook "jobs.batch-offload.io" denied the request' in refused.stderr
    assert "batch-offload.io/priority" in refused.stderr and "cheap" in refused.stderr
    assert control_plane.kubectl("get", "job", "bad-priority", "-n", namespace, check=False).returncode != 0


def test_the_jobs_failure_and_success_policy_reach_the_offloader(control_plane, registered_webhook, namespace):
    """An Indexed Job with every policy field: the API server accepts the rewritten Job (which keeps
    only the offloader's own policy), the offloader's WORKERSPEC carries the user's, and kubectl shows
    the warnings for what Batch cannot follow."""
    job = example_job("with-policy")
    for aggregator in ("batch-offload.io/aggregator-image", "batch-offload.io/aggregator-args"):
        del job["metadata"]["annotations"][aggregator]  # it needs every worker: no successPolicy
    job["spec"].update({
        "completionMode": "Indexed", "completions": 4, "backoffLimitPerIndex": 1, "maxFailedIndexes": 1,
        "successPolicy": {"rules": [{"succeededIndexes": "0-1", "succeededCount": 1}]},
        "podFailurePolicy": {"rules": [
            {"action": "FailJob", "onExitCodes": {"containerName": only_container(job)["name"],
                                                  "operator": "In", "values": [42]}},
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}})
    job["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    applied = control_plane.apply(job, namespace)
    assert "Warning: spec.podFailurePolicy.rules[0]: on Azure Batch it acts once the task's 1 retries" \
        in applied.stderr, applied.stderr
    assert "Warning: spec.podFailurePolicy.rules[1] (onPodConditions)" in applied.stderr
    stored = control_plane.get("job", "with-policy", namespace)
    assert "successPolicy" not in stored["spec"] and "maxFailedIndexes" not in stored["spec"]
    env = {e["name"]: e.get("value") for e in only_container(stored)["env"]}
    carried = json.loads(env["WORKERSPEC"])
    for field in ("backoffLimitPerIndex", "maxFailedIndexes", "successPolicy"):
        assert carried[field] == job["spec"][field], field
    # as the API server defaulted it (onPodConditions' status: "True")
    assert carried["podFailurePolicy"]["rules"][0] == job["spec"]["podFailurePolicy"]["rules"][0]
    assert carried["podFailurePolicy"]["rules"][1]["onPodConditions"] == [{"type": "DisruptionTarget", "status": "True"}]


def test_kubectl_shows_where_secrets_go_and_what_resources_are_lost(control_plane, registered_webhook, namespace):
    """The API server passes on the webhook's warnings as written (each under its 256 characters)."""
    sent = example_job("with-secrets")
    worker = only_container(sent)
    worker["env"] = [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "app-secrets", "key": "token"}}}]
    worker["resources"] = {"limits": {"cpu": "1", "ephemeral-storage": "1Gi"}}
    applied = control_plane.apply(sent, namespace)
    assert ('Warning: spec.template.spec.containers[0] takes env values from Secrets (1 reference, the first to '
            '"app-secrets"): on Azure Batch they are the Batch job\'s commonEnvironmentSettings, readable by anyone '
            'with read access to the Batch account') in applied.stderr
    assert ("Warning: spec.template.spec.containers[0].resources.limits.ephemeral-storage is not carried to Azure "
            "Batch") in applied.stderr


def test_a_gpu_job_where_the_platform_has_no_gpus_is_refused(control_plane, registered_webhook, namespace):
    sent = example_job("with-gpus")
    only_container(sent)["resources"] = {"limits": {"nvidia.com/gpu": "1"}}
    refused = control_plane.apply(sent, namespace, check=False)
    assert refused.returncode != 0
    assert ("spec.template.spec.containers[0] asks for 1 nvidia.com/gpu, but this cluster has no GPUs for "
            "offloaded Jobs") in refused.stderr
    assert control_plane.kubectl("get", "job", "with-gpus", "-n", namespace, check=False).returncode != 0


def test_a_wrong_assets_directory_is_an_error_not_a_skip(monkeypatch, tmp_path):
    (tmp_path / "kube-apiserver").write_text("")  # there, but not a program
    monkeypatch.setenv(ASSETS_VARIABLE, str(tmp_path))
    with pytest.raises(ControlPlaneError, match=f"{ASSETS_VARIABLE}=.* holds no executable "
                                                "kube-apiserver nor kube-controller-manager"):
        kube_assets()
