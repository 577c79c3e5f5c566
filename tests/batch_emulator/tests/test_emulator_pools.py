# Pools as the offloader's pre-flight and its watch over waiting tasks see them: Pools_GetPool of a
# missing pool (404 PoolNotFound in the service's error shape), pools with and without a container
# configuration, Pools_DeletePool while tasks wait (spec: running tasks requeued, the pool gone, its
# jobs' tasks waiting for a pool of that id), Pools_EnablePoolAutoScale (a new formula: how a Spot
# fallback gives an auto pool dedicated nodes), and a VM size that shows as a resize error.
import re
import time

import pytest

from batch_emulator.testing import batch, emulator, wait_until  # noqa: F401 (pytest fixtures)

HPC_2204 = {"publisher": "microsoft-dsvm", "offer": "ubuntu-hpc", "sku": "2204", "version": "latest"}
SPOT_FORMULA = "$TargetLowPriorityNodes = min(20, $PendingTasks.GetSample(1));\n$TargetDedicatedNodes = 0;"
DEDICATED_FORMULA = "$TargetDedicatedNodes = min(20, $PendingTasks.GetSample(1));\n$TargetLowPriorityNodes = 0;"


def _pool(pool_id, containers=True, vm_size="Standard_D2s_v3", **fields):
    configuration = {"imageReference": HPC_2204, "nodeAgentSKUId": "batch.node.ubuntu 22.04"}
    if containers:
        configuration["containerConfiguration"] = {"type": "dockerCompatible"}
    return {"id": pool_id, "vmSize": vm_size, "virtualMachineConfiguration": configuration, **fields}


def _autoscale_pool(pool_id, formula):
    return _pool(pool_id, enableAutoScale=True, autoScaleFormula=formula, autoScaleEvaluationInterval="PT5M")


def _sleeper(task_id, seconds=30):
    return {"id": task_id, "commandLine": f"/bin/sleep {seconds}"}


def _container_task(task_id):
    return {"id": task_id, "commandLine": "", "containerSettings": {"imageName": "true-image"}}


# ----- Pools_GetPool -----

def test_a_missing_pool_is_404_pool_not_found_in_the_service_error_shape(batch):
    reply = batch.request("GET", "/pools/no-such-pool", query={"$select": "id,state"})
    assert reply.status == 404 and reply.error_code == "PoolNotFound"
    body = reply.json
    assert body["odata.metadata"] == f"{batch.url}/$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element"
    assert body["message"]["lang"] == "en-US"
    assert re.fullmatch(r"The specified pool does not exist\.\nRequestId:[0-9a-f-]{36}\nTime:\S+Z",
                        body["message"]["value"]), body["message"]["value"]
    assert reply.headers["request-id"] and reply.headers["content-type"].startswith("application/json")


def test_pools_with_and_without_a_container_configuration(batch):
    batch.ok(201, "POST", "/pools", _pool("containers", targetDedicatedNodes=1))
    batch.ok(201, "POST", "/pools", _pool("plain", containers=False, targetDedicatedNodes=1))
    select = {"$select": "id,state,virtualMachineConfiguration,currentDedicatedNodes,resizeErrors"}
    with_containers = batch.ok(200, "GET", "/pools/containers", query=select).json
    assert with_containers["virtualMachineConfiguration"]["containerConfiguration"] == {"type": "dockerCompatible"}
    assert set(with_containers) == {"odata.metadata", "id", "state", "virtualMachineConfiguration",
                                    "currentDedicatedNodes"}, "resizeErrors is absent without errors"
    plain = batch.ok(200, "GET", "/pools/plain", query=select).json
    assert "containerConfiguration" not in plain["virtualMachineConfiguration"] and plain["state"] == "active"


# ----- Pools_DeletePool -----

def test_a_pool_deleted_while_tasks_wait_requeues_them_and_they_wait_for_it(batch):
    batch.ok(201, "POST", "/pools", _pool("doomed", containers=False, targetDedicatedNodes=1))
    batch.create_job("job", pool_id="doomed")
    batch.add_task("job", _sleeper("running"))
    wait_until(lambda: batch.get_task("job", "running")["state"] == "running", what="the task to start")
    reply = batch.request("DELETE", "/pools/doomed")
    assert reply.status == 202 and reply.body == b""
    # At once: deleting, the running task requeued (a user request: requeueCount) rather than failed.
    assert batch.ok(200, "GET", "/pools/doomed").json["state"] == "deleting"
    again = batch.request("DELETE", "/pools/doomed")
    assert again.status == 409 and again.error_code == "PoolBeingDeleted"
    recreate = batch.request("POST", "/pools", _pool("doomed", containers=False, targetDedicatedNodes=1))
    assert recreate.status == 409 and recreate.error_code == "PoolBeingDeleted"
    wait_until(lambda: batch.get_task("job", "running")["state"] == "active", what="the task to be requeued")
    task = batch.get_task("job", "running")
    assert task["executionInfo"]["requeueCount"] == 1 and task["executionInfo"]["retryCount"] == 0
    wait_until(lambda: batch.request("GET", "/pools/doomed").status == 404, what="the pool to be gone")
    assert batch.request("GET", "/pools/doomed").error_code == "PoolNotFound"
    # The job stays active and its tasks wait, as for a job whose pool never existed.
    time.sleep(0.3)
    assert batch.get_job("job")["state"] == "active" and batch.get_task("job", "running")["state"] == "active"
    assert batch.task_counts("job")["active"] == 1
    # A pool of that id again: they run.
    batch.ok(201, "POST", "/pools", _pool("doomed", containers=False, targetDedicatedNodes=1))
    wait_until(lambda: batch.get_task("job", "running")["state"] == "running", what="the task to run again")
    batch.ok(202, "DELETE", "/jobs/job")


def test_deleting_a_missing_pool_is_404(batch):
    reply = batch.request("DELETE", "/pools/none")
    assert reply.status == 404 and reply.error_code == "PoolNotFound"


# ----- Pools_EnablePoolAutoScale -----

def test_a_new_formula_gives_a_spot_starved_pool_dedicated_nodes(batch):
    batch.control("POST", "account", {"spot": "noQuota"})
    batch.ok(201, "POST", "/pools", _autoscale_pool("spot", SPOT_FORMULA))
    batch.create_job("job", pool_id="spot")
    batch.add_task("job", _container_task("t"))
    pool = batch.ok(200, "GET", "/pools/spot").json
    assert [e["code"] for e in pool["resizeErrors"]] == ["AccountLowPriorityCoreQuotaReached"]
    time.sleep(0.3)
    assert batch.get_task("job", "t")["state"] == "active"
    reply = batch.request("POST", "/pools/spot/enableautoscale",
                          {"autoScaleFormula": DEDICATED_FORMULA, "autoScaleEvaluationInterval": "PT5M"})
    assert reply.status == 200 and reply.headers["etag"] and reply.body == b""
    pool = batch.ok(200, "GET", "/pools/spot").json
    assert pool["autoScaleFormula"] == DEDICATED_FORMULA and pool["enableAutoScale"] is True
    assert "resizeErrors" not in pool
    assert batch.wait_task_completed("job", "t")["executionInfo"]["result"] == "success"
    # Spec: "You cannot call this API for the same Pool more than once every 30 seconds."
    too_soon = batch.request("POST", "/pools/spot/enableautoscale", {"autoScaleFormula": SPOT_FORMULA})
    assert too_soon.status == 409 and too_soon.error_code == "AutoScaleTooManyRequestsToEnable"
    assert batch.ok(200, "GET", "/pools/spot").json["autoScaleFormula"] == DEDICATED_FORMULA


@pytest.mark.parametrize("pool_id, body, status, code", [
    ("none", {"autoScaleFormula": DEDICATED_FORMULA}, 404, "PoolNotFound"),
    ("fixed", {}, 400, "MissingRequiredProperty"),                    # no formula to keep
    ("fixed", {"autoScaleFormula": DEDICATED_FORMULA, "autoScaleEvaluationInterval": "PT1M"}, 400,
     "InvalidPropertyValue"),
    ("fixed", {"autoScaleFormula": DEDICATED_FORMULA, "targetDedicatedNodes": 2}, 400, "InvalidRequestBody"),
])
def test_enable_autoscale_refusals(batch, pool_id, body, status, code):
    batch.ok(201, "POST", "/pools", _pool("fixed", targetDedicatedNodes=1))
    reply = batch.request("POST", f"/pools/{pool_id}/enableautoscale", body)
    assert reply.status == status and reply.error_code == code, reply


def test_enable_autoscale_on_a_fixed_pool_replaces_its_targets(batch):
    batch.ok(201, "POST", "/pools", _pool("fixed", targetDedicatedNodes=1))
    batch.ok(200, "POST", "/pools/fixed/enableautoscale", {"autoScaleFormula": DEDICATED_FORMULA})
    pool = batch.ok(200, "GET", "/pools/fixed").json
    assert pool["enableAutoScale"] is True and pool["targetDedicatedNodes"] == 0


# ----- a VM size shown as a resize error -----

def test_an_unoffered_vm_size_can_show_as_the_pools_resize_error(batch):
    batch.control("POST", "account", {"unofferedVmSize": "resizeError"})
    assert batch.control("GET", "account")["unofferedVmSize"] == "resizeError"
    batch.ok(201, "POST", "/pools", _pool("odd", vm_size="Standard_D2_v9", targetDedicatedNodes=2))
    pool = batch.ok(200, "GET", "/pools/odd").json
    assert pool["resizeErrors"] == [{"code": "UnsupportedVMSize", "message": "Requested VM size is not supported"}]
    assert pool["currentDedicatedNodes"] == 0 and pool["targetDedicatedNodes"] == 2
    # An auto pool of such a size is made, and its job stays active with tasks that wait.
    spec = {key: value for key, value in _pool("", vm_size="Standard_D2_v9").items() if key != "id"}
    batch.ok(201, "POST", "/jobs", {"id": "auto", "poolInfo": {"autoPoolSpecification": {
        "autoPoolIdPrefix": "offload", "poolLifetimeOption": "job",
        "pool": {**spec, "enableAutoScale": True, "autoScaleFormula": DEDICATED_FORMULA}}}})
    job = batch.get_job("auto")
    assert job["state"] == "active" and "schedulingError" not in job["executionInfo"]
    auto_pool = batch.ok(200, "GET", f"/pools/{job['executionInfo']['poolId']}").json
    assert auto_pool["resizeErrors"][0]["code"] == "UnsupportedVMSize"
    batch.add_task("auto", _container_task("t"))
    time.sleep(0.3)
    assert batch.get_task("auto", "t")["state"] == "active"
    # By default such a pool is refused when it is created (test_emulator_account.py).
    batch.control("POST", "reset")
    assert batch.request("POST", "/pools", _pool("odd", vm_size="Standard_D2_v9")).error_code == "InvalidPropertyValue"
