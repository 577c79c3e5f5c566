# Fidelity with the official SDK: tests/node/sdk_fidelity.js drives the emulator with @azure/batch
# 10.2.0 (its own Shared Key signing, models, paging and error mapping) and reports what it saw.
import json
import os
import subprocess

import pytest

from batch_emulator.testing import NODE_DIR, emulator  # noqa: F401 (pytest fixtures)


@pytest.fixture(scope="module")
def sdk_report(emulator):
    client = emulator.client()
    client.control("POST", "reset")
    client.close()
    environment = {**os.environ, "BATCH_URL": emulator.url, "BATCH_ACCOUNT": emulator.account,
                   "BATCH_KEY": emulator.key}
    finished = subprocess.run(["node", "sdk_fidelity.js"], cwd=NODE_DIR, env=environment, capture_output=True,
                              text=True, timeout=180)
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout)


def test_the_sdk_creates_and_reads_pools_and_jobs(sdk_report):
    assert sdk_report["createPool"] == {"status": 201}
    assert sdk_report["poolExists"] is True
    assert sdk_report["getPool"] == {"vmSize": "standard_d2s_v3"}
    assert sdk_report["createJob"]["status"] == 201 and sdk_report["createJob"]["etag"]
    assert sdk_report["createJob"]["location"].endswith("/jobs/sdk-job")
    assert sdk_report["getJob"] == {"state": "active", "usesTaskDependencies": True, "creationTimeIsDate": True}


def test_the_sdk_adds_tasks_and_sees_them_run(sdk_report):
    assert sdk_report["addTask"] == {"status": 201}
    assert sdk_report["addCollection"] == {"successes": 100}
    assert sdk_report["addCollectionAgain"] == [{"status": "clienterror", "code": "TaskExists"}] * 2
    every = {"active": 0, "running": 0, "completed": 102, "succeeded": 102, "failed": 0}
    assert sdk_report["taskCounts"] == {"taskCounts": every, "taskSlotCounts": every}
    assert sdk_report["listTasks"] == {"count": 102, "pages": 3, "keys": ["executionInfo", "id", "state"],
                                       "allSucceeded": True}
    assert sdk_report["aggregate"] == {"result": "success", "exitCode": 0, "startedAfterWorkers": True}
    assert sdk_report["getFile"] == {"text": "hello from sdk\n"}
    assert sdk_report["getFileProperties"] == {"contentLength": 15, "isDirectory": "False"}


def test_the_sdk_maps_service_errors_to_their_codes(sdk_report):
    assert sdk_report["jobExists"]["statusCode"] == 409 and sdk_report["jobExists"]["code"] == "JobExists"
    assert sdk_report["jobExists"]["message"] == "The specified job already exists."
    assert sdk_report["jobExists"]["lang"] == "en-US"
    assert sdk_report["jobNotFound"]["statusCode"] == 404 and sdk_report["jobNotFound"]["code"] == "JobNotFound"
    assert sdk_report["badKey"]["statusCode"] == 403 and sdk_report["badKey"]["code"] == "AuthenticationFailed"


def test_throttling_as_the_sdk_sees_it(sdk_report):
    # @azure/batch 10.2.0 surfaces a 429 from an operation unretried (its deserialization policy rejects
    # before the throttling policy runs); its pipeline retries a raw request after Retry-After.
    throttled = sdk_report["throttledOperation"]
    assert throttled["statusCode"] == 429 and throttled["code"] == "TooManyRequests"
    assert throttled["retryAfter"] == "1"
    raw = sdk_report["throttledRaw"]
    assert raw["status"] == 200 and raw["state"] == "active" and raw["getJobRequests"] == 3
    assert raw["waitedMs"] >= 2000


def test_the_sdk_terminates_and_deletes(sdk_report):
    assert sdk_report["terminate"] == {"status": 202, "terminateReason": "stopped by the SDK"}
    assert sdk_report["deleteJob"] == {"status": 202, "afterwards": "JobNotFound"}


def test_the_sdk_disables_and_enables_a_job(sdk_report):
    assert sdk_report["disable"] == {"status": 202, "previousState": "disabling"}
    assert sdk_report["disableAgain"] == {"status": 202}
    assert sdk_report["enable"] == {"status": 202, "previousState": "enabling"}
    assert sdk_report["enableActive"]["statusCode"] == 409
    assert sdk_report["enableActive"]["code"] == "OperationInvalidForCurrentState"


def test_the_sdk_lists_jobs_with_metadata_filter_select_and_paging(sdk_report):
    assert sdk_report["listJobs"] == {"ids": [f"sdk-meta-{i}" for i in range(5)], "pages": 3,
                                      "uids": ["uid-0", "uid-1", "uid-2", "uid-3", "patched"]}
    assert sdk_report["unfilterable"]["statusCode"] == 400
    assert sdk_report["unfilterable"]["code"] == "InvalidQueryParameterValue"


def test_the_sdk_lists_supported_images(sdk_report):
    images = {image["image"]: image for image in sdk_report["supportedImages"]}
    assert set(images) == {"microsoft-dsvm:ubuntu-hpc:2204", "microsoft-dsvm:ubuntu-hpc:2404",
                           "canonical:ubuntu-24_04-lts:server"}
    hpc = images["microsoft-dsvm:ubuntu-hpc:2204"]
    assert hpc["nodeAgentSKUId"] == "batch.node.ubuntu 22.04" and "DockerCompatible" in hpc["capabilities"]
    assert all(image["endOfLifeIsDate"] for image in images.values())
