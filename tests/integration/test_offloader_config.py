"""Bad configuration: every required variable missing and each malformed value exits 2 with a line
naming the variable, before a single request (the emulator counts none). A key or account the
service refuses exits 2 with a hint; an unreachable service exits 3. No secret is ever printed."""
import base64
import json

import pytest

from offloader_process import (REGISTRY_PASSWORD, batch, offload_emulator, offloader,  # noqa: F401
                               offloader_binary, stats)

REQUIRED = ["BATCHCONNECTIONSTRING", "BATCHNAME", "BATCHPASSWORD", "JOBID", "WORKERIMAGENAME", "COMPLETIONS"]

# (variable, bad value, extra variables the case needs)
MALFORMED = [
    ("BATCHCONNECTIONSTRING", "not a url", {}),
    ("BATCHCONNECTIONSTRING", "ftp://127.0.0.1:21", {}),
    ("BATCHCONNECTIONSTRING", "http://batch.example.com", {}),          # credentials over plain http
    ("BATCHCONNECTIONSTRING", "https://acct.westeurope.batch.azure.com/?x=1", {}),
    ("BATCHNAME", "Not_A_Name", {}),
    ("BATCHNAME", "ab", {}),
    ("BATCHPASSWORD", "not base64 at all!", {}),
    ("BATCHPASSWORD", base64.b64encode(b"short").decode(), {}),
    ("JOBID", "has space", {}),
    ("JOBID", "x" * 65, {}),
    ("JOBID", "", {}),
    ("POOLID", "bad/pool", {}),
    ("WORKERIMAGENAME", "Has Spaces:1", {}),
    ("WORKERIMAGENAME", "", {}),
    ("COMPLETIONS", "0", {}),
    ("COMPLETIONS", "-3", {}),
    ("COMPLETIONS", "1.5", {}),
    ("COMPLETIONS", "ten", {}),
    ("COMPLETIONS", " 5", {}),
    ("COMPLETIONS", "+5", {}),
    ("COMPLETIONS", "100001", {}),
    ("COMPLETIONS", "", {}),
    ("COMPLETIONS", "99999999999999999999999", {}),
    ("AGGREGATORIMAGENAME", "bad image!", {}),
    ("AGGREGATORARGS", "not json", {"AGGREGATORIMAGENAME": "probe:1"}),
    ("AGGREGATORARGS", '{"a": 1}', {"AGGREGATORIMAGENAME": "probe:1"}),
    ("AGGREGATORARGS", "[1, 2]", {"AGGREGATORIMAGENAME": "probe:1"}),
    ("AGGREGATORARGS", '["x"]', {}),                                     # without an aggregator
    ("WORKERSPEC", "[]", {}),
    ("WORKERSPEC", "{not json", {}),
    ("WORKERSPEC", '{"backoffLimit": -1}', {}),
    ("WORKERSPEC", '{"backoffLimit": "six"}', {}),
    ("WORKERSPEC", '{"parallelism": 0}', {}),
    ("WORKERSPEC", '{"activeDeadlineSeconds": 0}', {}),
    ("WORKERSPEC", '{"container": {"command": "not a list"}}', {}),
    ("WORKERSPEC", '{"container": {"args": [1]}}', {}),
    ("WORKERSPEC", '{"container": {"env": [{"value": "no name"}]}}', {}),
    ("WORKERSPEC", '{"container": {"resources": {"limits": {"cpu": "lots"}}}}', {}),
    ("REGISTRYNAME", "bad host/with/path", {"REGISTRYUSERNAME": "u", "REGISTRYPASSWORD": REGISTRY_PASSWORD}),
    ("REGISTRYUSERNAME", "robot", {}),                                   # without its password
    ("REGISTRYPASSWORD", REGISTRY_PASSWORD, {"REGISTRYNAME": "registry.example.com"}),
    ("KEEPBATCHJOB", "yes", {}),
    ("KEEPBATCHJOB", "TRUE", {}),
    ("PRIORITY", "low", {}),
    ("VMSIZE", "huge machine", {}),
    ("BATCH_OFFLOAD_RETRY_BUDGET_SECONDS", "0", {}),
    ("BATCH_OFFLOAD_RETRY_BUDGET_SECONDS", "soon", {}),
    ("BATCH_OFFLOAD_POLL_MAX_SECONDS", "0", {}),
    ("BATCH_OFFLOAD_POLL_MAX_SECONDS", "301", {}),
    ("BATCH_OFFLOAD_API_VERSION", "latest", {}),
    ("STORAGEACCOUNT", "devstoreaccount1", {}),                           # without CONTAINER, BLOBPREFIX
]


def assert_refused_before_sending(run, batch, variable):
    run.expect(2, timeout=30)
    named = [line for line in run.stdout.splitlines() if variable in line]
    assert named, f"no line names {variable}:\n{run.output}"
    assert "nothing was sent" in run.stdout, run.stdout
    assert stats(batch)["total"] == 0, stats(batch)


@pytest.mark.parametrize("variable", REQUIRED)
def test_missing_required_variable(offloader, batch, variable):
    run = offloader.start(2, **{variable: None})
    assert_refused_before_sending(run, batch, variable)


def case_id(case):
    name, value, _ = case.values if hasattr(case, "values") else case
    return f"{name}={value[:24]!r}"


@pytest.mark.parametrize("variable,value,extra", MALFORMED, ids=[case_id(case) for case in MALFORMED])
def test_malformed_value(offloader, batch, variable, value, extra):
    run = offloader.start(2, **{**extra, variable: value})
    assert_refused_before_sending(run, batch, variable)
    if variable in ("BATCHPASSWORD", "REGISTRYPASSWORD") and len(value) >= 4:
        assert value not in run.output


def test_empty_environment(offloader_binary, offloader, batch):
    run = offloader.start(env={})
    run.expect(2, timeout=30)
    for variable in REQUIRED:
        assert variable in run.stdout, run.stdout


def test_every_problem_reported_at_once(offloader, batch):
    run = offloader.start(2, COMPLETIONS="zero", JOBID="bad id", KEEPBATCHJOB="maybe")
    run.expect(2, timeout=30)
    for variable in ("COMPLETIONS", "JOBID", "KEEPBATCHJOB"):
        assert variable in run.stdout, run.stdout


def test_wrong_key_is_refused_with_a_hint(offloader, batch):
    wrong = base64.b64encode(b"a-different-key-of-32-bytes-long").decode()
    run = offloader.start(2, BATCHPASSWORD=wrong).expect(2, timeout=60)
    assert wrong not in run.output
    assert "403" in run.stdout and "AuthenticationFailed" in run.stdout, run.stdout
    assert "BATCHPASSWORD" in run.stdout and "BATCHNAME" in run.stdout, run.stdout   # the hint
    operations = stats(batch)["operations"]
    assert operations == {"Jobs_GetJob": 1}, operations       # refused: not retried, nothing created


def test_wrong_account_name_is_refused(offloader, batch):
    run = offloader.start(2, BATCHNAME="someotheraccount").expect(2, timeout=60)
    assert "AuthenticationFailed" in run.stdout, run.stdout


def test_unsupported_api_version_is_refused(offloader, batch):
    run = offloader.start(2, BATCH_OFFLOAD_API_VERSION="2099-01-01.99.0").expect(2, timeout=60)
    assert "InvalidQueryParameterValue" in run.stdout, run.stdout


def test_unreachable_service_exits_3(offloader, batch):
    run = offloader.start(2, BATCHCONNECTIONSTRING="http://127.0.0.1:9", BATCH_OFFLOAD_RETRY_BUDGET_SECONDS="3")
    run.expect(3, timeout=60)
    assert run.seconds < 30, run.stdout


def test_worker_spec_from_the_webhook_shape_is_accepted(offloader, batch):
    # every field the webhook puts in WORKERSPEC, as it puts them
    spec = {"completions": 2, "parallelism": 2, "backoffLimit": 6, "backoffLimitPerIndex": None,
            "activeDeadlineSeconds": None, "completionMode": "NonIndexed",
            "container": {"name": "worker", "image": "probe:1", "imagePullPolicy": "IfNotPresent",
                          "resources": {}, "terminationMessagePath": "/dev/termination-log",
                          "terminationMessagePolicy": "File"},
            "imagePullSecrets": []}
    offloader.start(2, WORKERSPEC=json.dumps(spec)).expect(0, timeout=60)


def test_tasks_refused_by_the_pool_exit_2_and_leave_nothing_behind(offloader, batch):
    # A new job never gets here: its pool is checked first (test_offloader_preflight.py). A replacement
    # pod re-attaches without that check, so a job an earlier pod made (no task added yet) on a pool
    # without containerConfiguration gets its container tasks refused one by one (clienterror).
    batch.create_pool("plain-pool")
    from offloader_process import new_job_id
    job_id = new_job_id("refused")
    batch.create_job(job_id, pool_id="plain-pool", usesTaskDependencies=True,
                     onTaskFailure="performexitoptionsjobaction")    # as the offloader makes it
    run = offloader.start(3, job_id=job_id, POOLID="plain-pool").expect(2, timeout=60)
    assert "containerSettings" in run.stdout and run.lines("re-attached"), run.stdout
    from offloader_process import job_status
    assert job_status(batch, run.env["JOBID"]) in (None, "deleting"), "the refused job was left behind"
