"""Inputs and outputs in Blob storage (Azurite): the SAS the offloader signs
is accepted as signed and refused when tampered with, expired or used beyond
its permissions; the word-count example run end to end (webhook, kubelet-built
environment, offloader, emulator nodes doing real Blob I/O) gives the same
result as counting directly; a failing worker leaves its stderr.txt in
storage and the offloader prints its tail; a Job without input blobs runs
with no input files, unless it says its inputs are required: then missing
inputs stop everything before any Batch job is created. A CronJob's runs read
inputs staged once and each keeps its outputs and logs apart, its aggregator
reading only its own run's results."""
import collections
import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from batch_emulator.testing import DEV_STORAGE_ACCOUNT, DEV_STORAGE_KEY, KEY
from batch_emulator.testing import azurite  # noqa: F401 (pytest fixture)
from batch_emulator.testing import wait_until
from offload_pipeline import DEFAULT_CONTAINER, LocalPlatform
from repo_paths import REPO_ROOT
from wordcount import words

MANIFEST = REPO_ROOT / "examples" / "wordcount" / "job.yaml"
SECRETS = (KEY, DEV_STORAGE_KEY)


def sas(build, container, permissions, blob="-", expiry_in=3600, start_in=-300):
    now = int(time.time())
    start = now + start_in if start_in is not None else 0
    return subprocess.run([str(build / "tests" / "tools" / "sas_sign"), DEV_STORAGE_ACCOUNT,
                           DEV_STORAGE_KEY, container, blob, permissions, str(start),
                           str(now + expiry_in), "http"],
                          check=True, capture_output=True, text=True).stdout.strip()


def http(method, url, data=None, headers=None):
    request = urllib.request.Request(url, data=data, method=method, headers={
        "x-ms-version": "2022-11-02", **(headers or {})})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def container(azurite):
    storage = azurite.storage()
    name = f"sas-{int(time.time() * 1000) % 10**9}"
    storage.create_container(name)
    storage.put_blob(name, "team/input/a.txt", b"alpha")
    return azurite.blob_endpoint + "/" + name, name


def test_read_list_sas_is_accepted_as_signed(build, container):
    url, name = container
    query = sas(build, name, "rl")
    status, body = http("GET", f"{url}?restype=container&comp=list&prefix=team/&{query}")
    assert status == 200 and b"<Name>team/input/a.txt</Name>" in body
    assert http("GET", f"{url}/team/input/a.txt?{query}") == (200, b"alpha")


@pytest.mark.parametrize("tamper", [
    lambda q: q.replace("sp=rl", "sp=rwl"),                  # more permissions than signed
    lambda q: q.replace("sr=c", "sr=b"),                     # another resource type
    lambda q: q.replace("spr=https%2Chttp", "spr=https"),    # another protocol than signed
])
def test_tampered_sas_is_refused(build, container, tamper):
    url, name = container
    query = tamper(sas(build, name, "rl"))
    status, body = http("GET", f"{url}?restype=container&comp=list&{query}")
    assert status == 403, body


def test_expired_or_not_yet_valid_sas_is_refused(build, container):
    url, name = container
    expired = sas(build, name, "rl", expiry_in=-60, start_in=-600)
    assert http("GET", f"{url}/team/input/a.txt?{expired}")[0] == 403
    future = sas(build, name, "rl", start_in=600)
    assert http("GET", f"{url}/team/input/a.txt?{future}")[0] == 403


def test_sas_is_refused_beyond_its_permissions(build, container):
    url, name = container
    read = sas(build, name, "rl")
    status, body = http("PUT", f"{url}/team/output/x.txt?{read}", b"x",
                        {"x-ms-blob-type": "BlockBlob"})
    assert status == 403 and b"AuthorizationPermissionMismatch" in body
    write = sas(build, name, "cw")
    assert http("PUT", f"{url}/team/output/x.txt?{write}", b"x",
                {"x-ms-blob-type": "BlockBlob"})[0] == 201
    assert http("GET", f"{url}/team/output/x.txt?{write}")[0] == 403
    assert http("GET", f"{url}?restype=container&comp=list&{write}")[0] == 403


def test_sas_for_another_container_is_refused(build, container, azurite):
    url, name = container
    other = sas(build, "another-container", "rl")
    assert http("GET", f"{url}/team/input/a.txt?{other}")[0] == 403


def corpus() -> dict:
    """A small corpus: Debian's license texts, a few files."""
    licenses = sorted(Path("/usr/share/common-licenses").glob("*"))[:6]
    return {f"input/{p.name}.txt": p.read_bytes() for p in licenses if p.is_file()}


@pytest.fixture
def platform(build, tmp_path):
    running = LocalPlatform(tmp_path, build, namespace="science")
    yield running
    running.close()


def run_admitted(platform, job):
    """(admission response, the offloader's env, exit code, output) of the Job
    admitted by the webhook and its offloader run."""
    response, stored = platform.admit(job)
    assert response["allowed"] is True
    env = platform.offloader_env(stored)
    code, lines = platform.run_offloader(env)
    output = "\n".join(lines)
    for secret in SECRETS:
        assert secret not in output
    for marker in ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer"):
        assert marker not in output, output
    return response, env, code, output


def run_wordcount(platform, job=None, inputs=True):
    prefix = "science/wordcount"
    files = corpus()
    if inputs:
        platform.upload(prefix, files)
    _, _, code, output = run_admitted(platform, job or platform.job_from_manifest(MANIFEST))
    return code, output, prefix, files


def test_wordcount_result_equals_a_direct_count(platform):
    code, output, prefix, files = run_wordcount(platform)
    assert code == 0, output
    totals = json.loads(platform.storage.get_blob(DEFAULT_CONTAINER,
                                                  f"{prefix}/output/aggregate/counts.json"))
    direct = collections.Counter()
    for data in files.values():
        direct.update(words(data.decode(errors="replace"), 4))
    assert totals == dict(direct)
    names = platform.storage.blob_names(DEFAULT_CONTAINER, f"{prefix}/")
    for task in ["0", "1", "2", "3", "aggregator"]:
        assert f"{prefix}/logs/{task}/stdout.txt" in names
        assert f"{prefix}/logs/{task}/stderr.txt" in names
    for worker in range(4):
        assert f"{prefix}/output/{worker}/counts.json" in names
    assert "sig=" not in output or "sig=REDACTED" in output
    assert f"outputs at={platform.azurite.blob_endpoint}/{DEFAULT_CONTAINER}/{prefix}/output/" \
        in output


def test_failing_worker_leaves_its_stderr_and_the_tail_is_printed(platform):
    job = platform.job_from_manifest(MANIFEST)
    job["spec"]["backoffLimit"] = 0
    job["spec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": "WORDCOUNT_FAIL_INDEX", "value": "2"})
    code, output, prefix, _ = run_wordcount(platform, job)
    assert code == 1, output
    stderr = platform.storage.get_blob(DEFAULT_CONTAINER, f"{prefix}/logs/2/stderr.txt").decode()
    assert "worker 2: failing on purpose" in stderr
    assert "task failed task=2 exit_code=3" in output
    assert "end of stderr.txt of task 2:" in output
    assert "worker 2: failing on purpose (WORDCOUNT_FAIL_INDEX)" in output
    names = platform.storage.blob_names(DEFAULT_CONTAINER, f"{prefix}/output/")
    assert f"{prefix}/output/2/counts.json" not in names  # outputs only on success
    assert f"{prefix}/output/aggregate/counts.json" not in names


def annotated(platform, **annotations):
    job = platform.job_from_manifest(MANIFEST)
    job["metadata"]["annotations"].update(
        {f"batch-offload.io/{name}": value for name, value in annotations.items()})
    return job


def assert_nothing_created(client):
    """Only the look for an existing job (a restarted offloader re-attaches) and, when it came
    that far, the auto pool's pre-flight look at the images Batch offers."""
    operations = set(client.control("GET", "stats")["operations"])
    assert "Jobs_GetJob" in operations and operations <= {"Jobs_GetJob", "Pools_ListSupportedImages"}, operations


def test_missing_required_inputs_stop_before_anything_is_created(platform):
    client = platform.emulator.client()
    client.control("POST", "stats/reset")
    code, output, prefix, _ = run_wordcount(platform, annotated(platform, inputs="required"),
                                            inputs=False)
    assert code == 2, output
    assert (f"no input blobs under {platform.azurite.blob_endpoint}/{DEFAULT_CONTAINER}/"
            f"{prefix}/input/: upload the inputs there first (INPUTS=required)") in output
    assert_nothing_created(client)


def test_required_inputs_that_are_there_run_as_any_job(platform):
    code, output, prefix, files = run_wordcount(platform, annotated(platform, inputs="required"))
    assert code == 0, output
    assert "no input blobs" not in output


def test_a_job_without_inputs_runs_with_no_input_files(platform):
    job = annotated(platform, **{"keep-batch-job": "true"})
    code, output, prefix, _ = run_wordcount(platform, job, inputs=False)
    assert code == 0, output
    assert (f"no input blobs: the tasks run without input files under="
            f"{platform.azurite.blob_endpoint}/{DEFAULT_CONTAINER}/{prefix}/input/") in output
    # The workers ran on nothing; the aggregator still read their outputs.
    totals = json.loads(platform.storage.get_blob(DEFAULT_CONTAINER,
                                                  f"{prefix}/output/aggregate/counts.json"))
    assert totals == {}
    client = platform.emulator.client()
    (batch_job,) = [j for j in client.ok(200, "GET", "/jobs").json["value"]]
    assert {"name": "batch-offload.io/inputs", "value": "none"} in batch_job["metadata"]
    for worker in "0123":
        task = client.get_task(batch_job["id"], worker)
        assert "resourceFiles" not in task
        assert task["executionInfo"]["result"] == "success"
    aggregator = client.get_task(batch_job["id"], "aggregator")
    assert aggregator["resourceFiles"][0]["blobPrefix"] == f"{prefix}/output/"


def test_a_restarted_offloader_gives_the_rest_of_the_tasks_no_inputs_either(platform):
    # The first offloader creates the job, finding no inputs, and is killed (OOM, node loss)
    # before any task is in; inputs uploaded meanwhile must not reach only part of the
    # workers of that run: the job's own record says it has none.
    client = platform.emulator.client()
    client.control("POST", "faults", [{"delay": 3, "count": 40,
                                       "operations": ["addtaskcollection"]}])
    response, stored = platform.admit(annotated(platform, **{"keep-batch-job": "true"}))
    env = platform.offloader_env(stored)
    first = subprocess.Popen([str(platform.build_dir / "batch-offloader")], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: client.control("GET", "stats")["operations"].get(
            "Tasks_CreateTaskCollection"), 60, "the first task collection", interval=0.02)
    finally:
        first.kill()
        first.wait()
    client.control("DELETE", "faults")
    platform.upload("science/wordcount", corpus())
    code, lines = platform.run_offloader(env)
    output = "\n".join(lines)
    assert code == 0, output
    assert "re-attached to the existing Batch job" in output
    for worker in "0123":
        assert "resourceFiles" not in client.get_task(env["JOBID"], worker)


def test_a_missing_container_is_bad_configuration_even_without_required_inputs(platform):
    client = platform.emulator.client()
    client.control("POST", "stats/reset")
    job = annotated(platform, **{"storage-container": "no-such-container"})
    code, output, _, _ = run_wordcount(platform, job, inputs=False)
    assert code == 2, output
    assert (f"the container {platform.azurite.blob_endpoint}/no-such-container does not exist"
            in output)
    assert_nothing_created(client)


def test_job_with_generate_name_finds_its_inputs_under_its_final_name(platform):
    job = platform.job_from_manifest(MANIFEST)
    del job["metadata"]["name"]
    job["metadata"]["generateName"] = "wc-"
    response, stored = platform.admit(job)
    env = platform.offloader_env(stored)
    assert env["BLOBPREFIX"] == "science/wc-x7k2q"  # the name the Job got when stored
    platform.upload(env["BLOBPREFIX"], corpus())
    code, lines = platform.run_offloader(env)
    assert code == 0, "\n".join(lines)


def direct_count(files, min_length):
    counts = collections.Counter()
    for data in files.values():
        counts.update(words(data.decode(errors="replace"), min_length))
    return dict(counts)


def cronjob_run(platform, name, min_length):
    """The word count as the CronJob controller stamps it out: a new name each
    run, the CronJob as its controller."""
    job = platform.job_from_manifest(MANIFEST)
    job["metadata"]["name"] = name
    job["metadata"]["labels"] = {"batch.kubernetes.io/cronjob-name": "nightly"}
    job["metadata"]["ownerReferences"] = [{
        "apiVersion": "batch/v1", "kind": "CronJob", "name": "nightly",
        "uid": "5d2c9f8e-1b3a-4c6d-8e7f-9a0b1c2d3e4f", "controller": True,
        "blockOwnerDeletion": True}]
    job["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "MIN_WORD_LENGTH", "value": str(min_length)}]
    response, env, code, output = run_admitted(platform, job)
    assert "warnings" not in response, response["warnings"]
    return env, code, output


def test_cronjob_runs_read_inputs_staged_once_and_keep_their_results_apart(platform):
    files = corpus()
    platform.upload("science/nightly", files)  # once, before any run: <ns>/<cronjob>/input/
    runs = {"nightly-29395320": 4, "nightly-29396760": 6}  # each run counts differently
    for name, min_length in runs.items():
        env, code, output = cronjob_run(platform, name, min_length)
        assert code == 0, output
        assert env["INPUTPREFIX"] == "science/nightly"
        assert env["BLOBPREFIX"] == f"science/nightly/runs/{name}"
        assert "no input blobs" not in output
    # Every run's results and logs are its own: the first run's survive the second, and the
    # second's aggregator counted its own four workers, not the first run's as well (it
    # fails on finding more results than workers).
    for name, min_length in runs.items():
        prefix = f"science/nightly/runs/{name}"
        totals = json.loads(platform.storage.get_blob(DEFAULT_CONTAINER,
                                                      f"{prefix}/output/aggregate/counts.json"))
        assert totals == direct_count(files, min_length), name
        names = platform.storage.blob_names(DEFAULT_CONTAINER, f"{prefix}/")
        for task in ["0", "1", "2", "3", "aggregator"]:
            assert f"{prefix}/logs/{task}/stdout.txt" in names
        for worker in range(4):
            assert f"{prefix}/output/{worker}/counts.json" in names
        log = platform.storage.get_blob(DEFAULT_CONTAINER,
                                        f"{prefix}/logs/aggregator/stdout.txt").decode()
        assert "aggregator: 4 workers" in log, log
    assert direct_count(files, 4) != direct_count(files, 6)
    # The CronJob's prefix holds the staged inputs, as uploaded, and the runs: nothing else.
    names = platform.storage.blob_names(DEFAULT_CONTAINER, "science/nightly/")
    inputs = sorted(n for n in names if n.startswith("science/nightly/input/"))
    assert inputs == sorted(f"science/nightly/{name}" for name in files)
    assert all(n.startswith(("science/nightly/input/", "science/nightly/runs/")) for n in names)
