"""Regional failover and quotas, against two emulators (a primary and a
secondary Batch account): the job goes to the secondary when the primary
cannot be reached or refuses for its quota before the job exists, and the
run says so; a restarted offloader finds the job in whichever account holds
it; the same work never stays in both; without a secondary, a quota refusal
is waited out with a clear line instead of failing."""

import pytest

from loopback import free_port
from offloader_process import (IMAGE_MAP, batch, job_status, offload_emulator, offloader,  # noqa: F401
                               offloader_binary, operation_count, stats)
from batch_emulator.testing import Emulator

SECONDARY_ACCOUNT = "secondaryacct"
SECONDARY_KEY = "c2Vjb25kYXJ5IGVtdWxhdG9yIGtleSBmb3IgdGVzdHMh"  # made up for these tests


@pytest.fixture(scope="module")
def secondary_emulator(tmp_path_factory):
    running = Emulator(tmp_path_factory.mktemp("secondary"), slots=4, image_map=IMAGE_MAP,
                       account=SECONDARY_ACCOUNT, key=SECONDARY_KEY)
    yield running
    assert running.stop() == 0


@pytest.fixture
def secondary(secondary_emulator):
    client = secondary_emulator.client()
    client.control("POST", "reset")
    yield client
    client.close()


def secondary_env(emulator):
    return {"SECONDARY_BATCHCONNECTIONSTRING": emulator.url,
            "SECONDARY_BATCHNAME": SECONDARY_ACCOUNT, "SECONDARY_BATCHPASSWORD": SECONDARY_KEY}


def closed_port_url():
    """A loopback URL where nothing listens: connections are refused at once."""
    return f"http://127.0.0.1:{free_port()}"


def test_unreachable_primary_sends_the_job_to_the_secondary(offloader, batch, secondary,
                                                           secondary_emulator):
    run = offloader.start(3, BATCHCONNECTIONSTRING=closed_port_url(),
                          BATCH_OFFLOAD_RETRY_BUDGET_SECONDS=2, KEEPBATCHJOB="true",
                          **secondary_env(secondary_emulator))
    run.expect(0)
    assert "the primary Batch account cannot be reached: submitting to the secondary" in run.stdout
    assert job_status(secondary, run.env["JOBID"]) == "completed"
    assert stats(secondary)["maxTaskAdds"] == 1


def test_an_unanswered_preflight_in_the_primary_sends_the_job_to_the_secondary(offloader, batch, secondary,
                                                                             secondary_emulator):
    # Reading the supported images changes nothing, so unlike a create it may go elsewhere; the
    # secondary's own images are checked there.
    batch.control("POST", "faults", {"status": 503, "count": 100000, "operations": ["Pools_ListSupportedImages"]})
    run = offloader.start(2, BATCH_OFFLOAD_RETRY_BUDGET_SECONDS=2, KEEPBATCHJOB="true",
                          **secondary_env(secondary_emulator))
    run.expect(0)
    assert "the primary Batch account cannot be reached: submitting to the secondary" in run.stdout
    assert operation_count(batch, "Jobs_CreateJob") == 0
    assert operation_count(secondary, "Pools_ListSupportedImages") == 1
    assert job_status(secondary, run.env["JOBID"]) == "completed"


def test_a_pool_missing_in_the_secondary_exits_2_naming_that_account(offloader, batch, secondary,
                                                                    secondary_emulator):
    batch.create_pool("render", containers=True)
    batch.control("POST", "faults", {"status": 409, "code": "ActiveJobAndScheduleQuotaReached",
                                     "count": 1, "operations": ["Jobs_CreateJob"]})
    run = offloader.start(2, POOLID="render", **secondary_env(secondary_emulator)).expect(2)
    assert f"pool render does not exist in Batch account {SECONDARY_ACCOUNT}" in run.stdout, run.stdout
    assert operation_count(secondary, "Jobs_CreateJob") == 0


def test_primary_at_its_quota_sends_the_job_to_the_secondary(offloader, batch, secondary,
                                                            secondary_emulator):
    batch.control("POST", "faults", {"status": 409, "code": "ActiveJobAndScheduleQuotaReached",
                                     "count": 1, "operations": ["Jobs_CreateJob"]})
    run = offloader.start(2, KEEPBATCHJOB="true", **secondary_env(secondary_emulator))
    run.expect(0)
    assert ("the primary Batch account refused the job for its quota: submitting to the "
            "secondary") in run.stdout
    assert "code=ActiveJobAndScheduleQuotaReached" in run.stdout
    assert job_status(batch, run.env["JOBID"]) is None  # nothing left in the primary
    assert job_status(secondary, run.env["JOBID"]) == "completed"


def test_restarted_offloader_finds_the_job_in_the_secondary(offloader, batch, secondary,
                                                           secondary_emulator):
    env = offloader.env(2, KEEPBATCHJOB="true", **secondary_env(secondary_emulator))
    batch.control("POST", "faults", {"status": 409, "code": "ActiveJobAndScheduleQuotaReached",
                                     "count": 1, "operations": ["Jobs_CreateJob"]})
    offloader.start(env=env).expect(0)
    again = offloader.start(env=env).expect(0)
    assert "re-attached to the existing Batch job account=secondary" in again.stdout
    assert operation_count(batch, "Jobs_CreateJob") == 1  # the refused one only
    assert stats(secondary)["maxTaskAdds"] == 1


def test_a_copy_in_the_secondary_is_removed_when_the_primary_holds_the_job(
        offloader, batch, secondary, secondary_emulator):
    env = offloader.env(2, KEEPBATCHJOB="true", **secondary_env(secondary_emulator))
    # An earlier offloader put the job in the primary; another, cut off from it, in the secondary.
    offloader.start(env=env).expect(0)
    secondary.request("POST", "/pools", body={"id": "copy-pool", "vmSize": "standard_d2s_v3"})
    secondary.create_job(env["JOBID"], "copy-pool")
    again = offloader.start(env=env).expect(0)
    assert "removing a copy of the job from the other Batch account account=secondary" \
        in again.stdout
    assert job_status(secondary, env["JOBID"]) in (None, "deleting")
    assert job_status(batch, env["JOBID"]) == "completed"


def test_quota_is_waited_out_without_a_secondary(offloader, batch):
    batch.control("POST", "faults", {"status": 409, "code": "ActiveJobAndScheduleQuotaReached",
                                     "count": 2, "operations": ["Jobs_CreateJob"]})
    run = offloader.start(2, BATCH_OFFLOAD_QUOTA_WAIT_MAX_SECONDS=1)
    run.expect(0)
    waits = run.lines("the primary Batch account is at its quota; waiting 1 s before trying again")
    assert len(waits) == 2, run.stdout
    assert operation_count(batch, "Jobs_CreateJob") == 3


def test_stop_while_waiting_for_quota_exits_143_and_creates_nothing(offloader, batch):
    import signal
    batch.control("POST", "faults", {"status": 409, "code": "ActiveJobAndScheduleQuotaReached",
                                     "count": 100, "operations": ["Jobs_CreateJob"]})
    run = offloader.start(2, BATCH_OFFLOAD_QUOTA_WAIT_MAX_SECONDS=60)
    run.wait_for_output("is at its quota; waiting")
    run.send_signal(signal.SIGTERM)
    run.expect(143, timeout=15)
    assert job_status(batch, run.env["JOBID"]) is None


def test_primary_that_refuses_otherwise_does_not_fail_over(offloader, batch, secondary,
                                                          secondary_emulator):
    run = offloader.start(2, BATCHPASSWORD="d3Jvbmcga2V5IGZvciB0aGUgcHJpbWFyeSBhY2NvdW50",
                          **secondary_env(secondary_emulator))
    run.expect(2)
    assert "AuthenticationFailed" in run.stdout
    assert stats(secondary)["operations"].get("Jobs_CreateJob", 0) == 0
