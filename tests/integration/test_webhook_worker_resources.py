"""The worker's resources through the real webhook: a GPU Job (nvidia.com/gpu) runs where the
platform put GPUs (--gpu-pool, or an auto pool of --gpu-vm-size, one task per node) and is refused
where it put none; GPU counts the API server would refuse are refused (it never sees the worker
once the Job is rewritten); every other resource Azure Batch does not get comes back as a warning
naming it. Patches are applied with kubectl's own code and checked against the official schemas."""
import base64
import json

import pytest

from admission_fixtures import load_fixture
from k8s_schema import validate
from kubectl_patch import apply_json_patch

GPU_PLATFORM = ["--default-pool", "cpu-pool", "--default-vm-size", "Standard_D4s_v3",
                "--task-slots-per-node", "4", "--node-fill-type", "pack",
                "--gpu-vm-size", "Standard_NC12s_v3", "--gpu-pool-image", "microsoft-dsvm:ubuntu-hpc:2404:latest",
                "--gpu-node-agent-sku", "batch.node.ubuntu 24.04"]


def job_with_resources(resources, annotations=None):
    review = load_fixture("kubectl-job")
    job = review["request"]["object"]
    job["spec"]["template"]["spec"]["containers"][0]["resources"] = resources
    job["metadata"]["annotations"].update(annotations or {})
    return review


def admitted(webhook, review):
    """(the stored Job, its offloader env by name, the response) of an allowed review."""
    response = webhook.review(review)["response"]
    assert response["allowed"] is True, response
    job = apply_json_patch(review["request"]["object"], json.loads(base64.b64decode(response["patch"])))
    for release in ("1.30", "1.35"):
        assert validate(job, release=release) == [], release
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    return job, env, response


def denied(webhook, review):
    response = webhook.review(review)["response"]
    assert response["allowed"] is False and "patch" not in response, response
    return response["status"]["code"], response["status"]["message"]


def test_a_gpu_job_runs_on_the_platform_gpu_auto_pool(start_webhook):
    webhook = start_webhook(*GPU_PLATFORM)
    resources = {"limits": {"nvidia.com/gpu": "2", "cpu": "6"}, "requests": {"nvidia.com/gpu": "2"}}
    _, env, response = admitted(webhook, job_with_resources(resources))
    assert "POOLID" not in env
    assert env["VMSIZE"] == "Standard_NC12s_v3"
    assert env["BATCH_OFFLOAD_POOL_IMAGE"] == "microsoft-dsvm:ubuntu-hpc:2404:latest"
    assert env["BATCH_OFFLOAD_NODE_AGENT_SKU"] == "batch.node.ubuntu 24.04"
    # Batch gives a container task every GPU of its node: one task per node.
    assert "BATCH_OFFLOAD_TASK_SLOTS_PER_NODE" not in env and "BATCH_OFFLOAD_NODE_FILL_TYPE" not in env
    # The worker spec carries the count, in the container's own limits.
    spec = json.loads(env["WORKERSPEC"].replace("$$", "$"))
    assert spec["container"]["resources"] == resources
    assert "warnings" not in response


def test_a_cpu_job_on_the_same_platform_keeps_the_cpu_pool(start_webhook):
    webhook = start_webhook(*GPU_PLATFORM)
    _, env, _ = admitted(webhook, load_fixture("kubectl-job"))
    assert env["POOLID"] == "cpu-pool" and env["BATCH_OFFLOAD_TASK_SLOTS_PER_NODE"] == "4"


def test_a_gpu_job_runs_on_the_platform_gpu_pool_or_the_one_it_names(start_webhook):
    webhook = start_webhook("--default-pool", "cpu-pool", "--gpu-pool", "gpu-pool")
    _, env, _ = admitted(webhook, job_with_resources({"limits": {"nvidia.com/gpu": "1"}}))
    assert env["POOLID"] == "gpu-pool"
    review = job_with_resources({"limits": {"nvidia.com/gpu": "1"}}, {"batch-offload.io/pool": "team-gpus"})
    _, env, _ = admitted(webhook, review)
    assert env["POOLID"] == "team-gpus"


def test_a_gpu_job_is_refused_where_the_platform_has_no_gpus(start_webhook):
    webhook = start_webhook("--default-pool", "cpu-pool")
    assert denied(webhook, job_with_resources({"limits": {"nvidia.com/gpu": "1"}})) == (
        400, "spec.template.spec.containers[0] asks for 1 nvidia.com/gpu, but this cluster has no GPUs for "
             "offloaded Jobs: the platform gives them with --gpu-pool or --gpu-vm-size (the chart's offload.gpu), "
             "or a Job names a GPU pool with batch-offload.io/pool")


@pytest.mark.parametrize("resources, message", [
    ({"limits": {"nvidia.com/gpu": "500m"}},
     'spec.template.spec.containers[0].resources.limits.nvidia.com/gpu is "500m": a GPU count is a whole '
     'number from 0 to 64'),
    ({"requests": {"nvidia.com/gpu": "1"}},
     "spec.template.spec.containers[0].resources.requests.nvidia.com/gpu is set without "
     "spec.template.spec.containers[0].resources.limits.nvidia.com/gpu: Kubernetes takes GPUs from limits; "
     "set the limit (and a request, if any, to the same number)"),
    ({"limits": {"nvidia.com/gpu": "1"}, "requests": {"nvidia.com/gpu": "2"}},
     'spec.template.spec.containers[0].resources.requests.nvidia.com/gpu is "2" and its limit "1": '
     'Kubernetes needs them equal'),
])
def test_gpu_counts_the_api_server_would_refuse_are_refused(start_webhook, resources, message):
    webhook = start_webhook("--gpu-vm-size", "Standard_NC6s_v3")
    assert denied(webhook, job_with_resources(resources)) == (400, message)


def test_resources_batch_does_not_get_are_named_in_warnings(start_webhook):
    webhook = start_webhook()
    resources = {"limits": {"cpu": "2", "memory": "4Gi", "ephemeral-storage": "10Gi", "hugepages-2Mi": "1Gi",
                            "amd.com/gpu": "1"},
                 "requests": {"cpu": "1", "memory": "1Gi", "ephemeral-storage": "5Gi"}}
    _, _, response = admitted(webhook, job_with_resources(resources))
    prefix = "spec.template.spec.containers[0].resources."
    named = sorted(w.split(" ", 1)[0] for w in response["warnings"])
    assert named == sorted(prefix + name for name in ("limits.ephemeral-storage", "limits.hugepages-2Mi",
                                                      "limits.amd.com/gpu", "requests.ephemeral-storage"))
    assert all(len(w) <= 256 and "is not carried to Azure Batch" in w for w in response["warnings"])
