# What the account offers, as the offloader's pre-flight checks see it: Pools_ListSupportedImages, VM
# sizes and images refused at pool creation or failing an auto pool job, Spot nodes by pool allocation
# mode and what a pool shows when they cannot be had, and GPU run options against the pool's VM size.
import json
import time

import pytest

from batch_emulator.testing import batch, emulator  # noqa: F401 (pytest fixtures)

HPC_2204 = {"publisher": "microsoft-dsvm", "offer": "ubuntu-hpc", "sku": "2204", "version": "latest"}


def _pool(pool_id, vm_size="Standard_D2s_v3", image=None, node_agent="batch.node.ubuntu 22.04", **fields):
    return {"id": pool_id, "vmSize": vm_size,
            "virtualMachineConfiguration": {"imageReference": image or HPC_2204, "nodeAgentSKUId": node_agent,
                                            "containerConfiguration": {"type": "dockerCompatible"}}, **fields}


def _auto_pool_job(job_id, vm_size):
    pool = {key: value for key, value in _pool("", vm_size=vm_size).items() if key != "id"}
    return {"id": job_id, "poolInfo": {"autoPoolSpecification": {
        "autoPoolIdPrefix": "offload", "poolLifetimeOption": "job", "pool": pool}}}


# ----- supported images -----

def test_supported_images_list_the_offloader_images_by_default(batch):
    reply = batch.ok(200, "GET", "/supportedimages")
    assert reply.json["odata.metadata"] == f"{batch.url}/$metadata#supportedimages"
    by_reference = {(i["imageReference"]["publisher"], i["imageReference"]["offer"], i["imageReference"]["sku"]): i
                    for i in reply.json["value"]}
    hpc = by_reference[("microsoft-dsvm", "ubuntu-hpc", "2204")]
    assert hpc["nodeAgentSKUId"] == "batch.node.ubuntu 22.04" and hpc["osType"] == "linux"
    assert hpc["verificationType"] == "verified" and hpc["batchSupportEndOfLife"] == "2027-06-30T00:00:00Z"
    assert {"DockerCompatible", "NvidiaTeslaDriverInstalled"} <= set(hpc["capabilities"])
    assert by_reference[("canonical", "ubuntu-24_04-lts", "server")]["nodeAgentSKUId"] == "batch.node.ubuntu 24.04"


def test_supported_images_filter_and_configuration(batch):
    unverified = {"nodeAgentSKUId": "batch.node.el 9", "osType": "linux", "verificationType": "unverified",
                  "imageReference": {"publisher": "almalinux", "offer": "almalinux-x86_64", "sku": "9-gen2",
                                     "version": "latest"}}
    account = batch.control("POST", "account", {"images": [unverified]})
    assert account["images"] == [unverified] and account["poolAllocationMode"] == "batchService"
    assert batch.ok(200, "GET", "/supportedimages", query={"$filter": "verificationType eq 'verified'"}).json[
        "value"] == []
    listed = batch.ok(200, "GET", "/supportedimages", query={"$filter": "nodeAgentSKUId eq 'batch.node.el 9'"})
    assert listed.json["value"] == [unverified]
    refused = batch.request("GET", "/supportedimages", query={"$filter": "capabilities eq 'DockerCompatible'"})
    assert refused.status == 400 and refused.error_code == "InvalidQueryParameterValue"
    batch.control("POST", "reset")
    assert len(batch.ok(200, "GET", "/supportedimages").json["value"]) == 3


@pytest.mark.parametrize("document", [{"images": [{"nodeAgentSKUId": "x"}]}, {"vmSizes": [{"name": "A", "gpus": -1}]},
                                      {"spot": "maybe"}, {"poolAllocationMode": "byHand"}, {"colour": "red"},
                                      {"unofferedVmSize": "ignored"}])
def test_account_configuration_is_validated(batch, document):
    data = json.dumps(document).encode()
    reply = batch.raw("POST", "/_emulator/account", data, {"Content-Type": "application/json"})
    assert reply.status == 400 and "error" in reply.json, document
    assert batch.control("GET", "account")["spot"] == "available"


# ----- VM sizes and images the account does not offer -----

def test_a_pool_of_a_vm_size_the_account_does_not_offer_is_refused(batch):
    reply = batch.request("POST", "/pools", _pool("pool", vm_size="Standard_D2_v9"))
    assert reply.status == 400 and reply.error_code == "InvalidPropertyValue"
    assert {"key": "PropertyName", "value": "vmSize"} in reply.json["values"]
    assert batch.request("GET", "/pools/pool").status == 404
    batch.ok(201, "POST", "/pools", _pool("pool", vm_size="standard_nc6s_v3"))      # sizes ignore case


def test_a_pool_of_an_unsupported_image_or_the_wrong_node_agent_is_refused(batch):
    other_image = {"publisher": "contoso", "offer": "secret", "sku": "1", "version": "latest"}
    reply = batch.request("POST", "/pools", _pool("pool", image=other_image))
    assert reply.status == 400 and {"key": "PropertyName", "value": "imageReference"} in reply.json["values"]
    reply = batch.request("POST", "/pools", _pool("pool", node_agent="batch.node.ubuntu 24.04"))
    assert reply.status == 400 and {"key": "PropertyName", "value": "nodeAgentSKUId"} in reply.json["values"]
    custom = {"virtualMachineImageId": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/images/i"}
    batch.ok(201, "POST", "/pools", _pool("pool", image=custom, node_agent="batch.node.ubuntu 22.04"))


def test_an_auto_pool_the_account_cannot_create_completes_its_job_with_a_scheduling_error(batch):
    # Spec, BatchPoolInfo.autoPoolSpecification: "If auto Pool creation fails, the Batch service moves the
    # Job to a completed state, and the Pool creation error is set in the Job's scheduling error property."
    batch.ok(201, "POST", "/jobs", _auto_pool_job("job", "Standard_NC6s_v3"))
    batch.control("POST", "account", {"vmSizes": [{"name": "Standard_D2s_v3", "vCPUs": 2, "gpus": 0}]})
    batch.ok(201, "POST", "/jobs", _auto_pool_job("gpu-job", "Standard_NC6s_v3"))
    job = batch.get_job("gpu-job")
    assert job["state"] == "completed" and job["previousState"] == "active"
    error = job["executionInfo"]["schedulingError"]
    assert error["category"] == "usererror" and error["code"] == "InvalidAutoPoolSettings"
    assert {"name": "PropertyName", "value": "vmSize"} in error["details"]
    assert "terminateReason" not in job["executionInfo"] and job["executionInfo"]["endTime"]
    late = batch.request("POST", "/jobs/gpu-job/tasks", {"id": "t", "commandLine": "/bin/true"})
    assert late.status == 409 and late.error_code == "JobCompleted"
    assert batch.get_job("job")["state"] == "active", "jobs created before the change keep their pools"
    pools = batch.ok(200, "GET", "/pools", query={"$filter": "startswith(id, 'offload_')"}).json["value"]
    assert len(pools) == 1


# ----- Spot -----

def test_spot_nodes_in_either_pool_allocation_mode(batch):
    # Azure/Batch#196: since March 2026 low-priority properties allocate Spot nodes in Batch-managed
    # accounts too; user subscription accounts always got Spot.
    for mode in ("batchService", "userSubscription"):
        batch.control("POST", "account", {"poolAllocationMode": mode})
        batch.ok(201, "POST", "/pools", _pool(f"spot-{mode}", targetLowPriorityNodes=3))
        pool = batch.ok(200, "GET", f"/pools/spot-{mode}").json
        assert pool["currentLowPriorityNodes"] == 3 and "resizeErrors" not in pool


@pytest.mark.parametrize("mode, spot, code", [("batchService", "noCapacity", "AllocationTimedout"),
                                              ("userSubscription", "noCapacity", "AllocationTimedout"),
                                              ("batchService", "noQuota", "AccountLowPriorityCoreQuotaReached"),
                                              ("userSubscription", "noQuota", "AllocationFailed")])
def test_a_spot_pool_without_spot_nodes_says_why_and_its_tasks_wait(batch, mode, spot, code):
    batch.control("POST", "account", {"poolAllocationMode": mode, "spot": spot})
    batch.ok(201, "POST", "/pools", _pool("spot", targetLowPriorityNodes=2))
    batch.create_job("job", pool_id="spot")
    batch.add_task("job", {"id": "t", "commandLine": "", "containerSettings": {"imageName": "true-image"}})
    pool = batch.ok(200, "GET", "/pools/spot").json
    assert pool["currentLowPriorityNodes"] == 0 and pool["targetLowPriorityNodes"] == 2
    assert [error["code"] for error in pool["resizeErrors"]] == [code]
    assert all(error["message"] for error in pool["resizeErrors"])
    time.sleep(0.3)     # no node takes it: proving a negative needs a moment
    assert batch.get_task("job", "t")["state"] == "active"
    batch.control("POST", "account", {"spot": "available"})
    assert batch.wait_task_completed("job", "t")["executionInfo"]["result"] == "success"
    assert "resizeErrors" not in batch.ok(200, "GET", "/pools/spot").json


def test_only_pools_that_ask_for_spot_nodes_lose_them(batch):
    batch.control("POST", "account", {"spot": "noCapacity"})
    spot_formula = "$TargetLowPriorityNodes = min(20, $PendingTasks.GetSample(1));\n$TargetDedicatedNodes = 0;"
    batch.ok(201, "POST", "/pools", _pool("autoscale-spot", enableAutoScale=True, autoScaleFormula=spot_formula))
    batch.ok(201, "POST", "/pools", _pool("mixed", targetDedicatedNodes=1, targetLowPriorityNodes=4))
    batch.ok(201, "POST", "/pools", _pool("dedicated", targetDedicatedNodes=2))
    assert batch.ok(200, "GET", "/pools/autoscale-spot").json["resizeErrors"][0]["code"] == "AllocationTimedout"
    mixed = batch.ok(200, "GET", "/pools/mixed").json
    assert mixed["currentDedicatedNodes"] == 1 and mixed["currentLowPriorityNodes"] == 0 and mixed["resizeErrors"]
    assert "resizeErrors" not in batch.ok(200, "GET", "/pools/dedicated").json
    for pool_id in ("mixed", "dedicated"):      # they still have nodes
        batch.create_job(pool_id, pool_id=pool_id)
        batch.add_task(pool_id, {"id": "t", "commandLine": "", "containerSettings": {"imageName": "true-image"}})
        assert batch.wait_task_completed(pool_id, "t")["executionInfo"]["result"] == "success"


# ----- GPUs -----

def _gpu_task(task_id, run_options):
    return {"id": task_id, "commandLine": "",
            "containerSettings": {"imageName": "true-image", "containerRunOptions": run_options}}


def test_gpu_run_options_run_on_a_vm_size_with_enough_gpus(batch):
    batch.ok(201, "POST", "/pools", _pool("gpu", vm_size="Standard_NC12s_v3", targetDedicatedNodes=1))
    batch.create_job("job", pool_id="gpu")
    batch.add_tasks("job", [_gpu_task("all", "--gpus all"), _gpu_task("two", "--gpus 2 --rm"),
                            _gpu_task("devices", '--gpus \'"device=0,1"\''), _gpu_task("three", "--gpus=3")])
    for task_id in ("all", "two", "devices"):
        assert batch.wait_task_completed("job", task_id)["executionInfo"]["result"] == "success", task_id
    three = batch.wait_task_completed("job", "three")["executionInfo"]
    assert three["failureInfo"]["code"] == "ContainerMiscError" and three["retryCount"] == 0


def test_gpu_run_options_fail_the_task_on_a_vm_size_without_gpus(batch):
    batch.create_pool("pool", containers=True)      # Standard_D2s_v3: no GPU
    batch.create_job("job")
    batch.add_tasks("job", [_gpu_task("gpu", "--gpus all"), _gpu_task("bad", "--gpus lots")])
    execution = batch.wait_task_completed("job", "gpu")["executionInfo"]
    assert execution["result"] == "failure" and "exitCode" not in execution
    assert execution["failureInfo"]["code"] == "ContainerMiscError"
    assert "could not select device driver" in execution["failureInfo"]["details"][0]["value"]
    assert batch.wait_task_completed("job", "bad")["executionInfo"]["failureInfo"]["code"] == "ContainerInvalidSettings"
