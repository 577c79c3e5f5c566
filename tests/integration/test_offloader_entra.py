"""Keyless authentication end to end: the offloader with Entra ID instead of
keys (workload identity, a client secret, a managed identity through IMDS)
against the emulator over HTTPS, which issues and checks the tokens, and
storage through user delegation SAS on Azurite with OAuth. A refused
identity is bad configuration; an unreachable token endpoint is Azure being
unavailable; tokens are refreshed before they expire, not fetched per
request; nothing secret is printed."""

import pytest

from loopback import free_port
from offloader_process import OffloaderProcess, new_job_id, offloader_binary  # noqa: F401
from batch_emulator.testing import (CLIENT_SECRET, DEV_STORAGE_ACCOUNT, SECRET_CLIENT,
                                    TENANT, WORKLOAD_CLIENT, Emulator, azurite_oauth,  # noqa: F401
                                    entra_emulator, entra_emulator_args, federated_issuer,
                                    server_tls)

WORKER_SCRIPT = (
    "import os, pathlib; inp = pathlib.Path(os.environ.get('BATCH_OFFLOAD_INPUT_DIR', '.')); "
    "out = pathlib.Path(os.environ.get('BATCH_OFFLOAD_OUTPUT_DIR', 'output')); "
    "out.mkdir(parents=True, exist_ok=True); "
    "names = sorted(str(p.relative_to(inp)) for p in inp.rglob('*') if p.is_file()) if inp.exists() else []; "
    "(out / 'seen.txt').write_text(os.environ['JOB_COMPLETION_INDEX'] + ' ' + ','.join(names)); "
    "print('worker', os.environ['JOB_COMPLETION_INDEX'], names)")
WORKERSPEC = ('{"completions": 2, "container": {"name": "w", "image": "python:3", "args": '
              '["/usr/bin/python3", "-c", ' + __import__("json").dumps(WORKER_SCRIPT) + ']}}')


def entra_env(emulator, server_tls, completions=2, **extra):
    env = {"BATCHCONNECTIONSTRING": emulator.url, "BATCHNAME": emulator.account,
           "JOBID": new_job_id("entra"), "WORKERIMAGENAME": "python:3",
           "COMPLETIONS": str(completions), "WORKERSPEC": WORKERSPEC,
           "AZURE_TENANT_ID": TENANT, "AZURE_AUTHORITY_HOST": emulator.url,
           "BATCH_OFFLOAD_CA_FILE": str(server_tls.ca), "BATCH_OFFLOAD_POLL_MAX_SECONDS": "1"}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def control(emulator, tls, method, path):
    return emulator.client(tls_context=tls.client_context()).control(method, path)


def tokens(emulator, tls):
    return control(emulator, tls, "GET", "stats").get("tokens", {})


@pytest.fixture
def assertion_file(tmp_path, federated_issuer):
    """The projected service-account token, as the workload identity webhook mounts it."""
    path = tmp_path / "azure-identity-token"
    path.write_text(federated_issuer.assertion())
    return path


@pytest.fixture
def run(offloader_binary):
    started = []

    def start(env):
        process = OffloaderProcess(offloader_binary, env)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.code is None:
            process.kill()
        process.check_clean(secrets=(CLIENT_SECRET,))


def test_workload_identity(run, entra_emulator, server_tls, assertion_file):
    before = tokens(entra_emulator, server_tls).get("client_assertion", 0)
    process = run(entra_env(entra_emulator, server_tls, AZURE_CLIENT_ID=WORKLOAD_CLIENT,
                            AZURE_FEDERATED_TOKEN_FILE=assertion_file))
    process.expect(0)
    assert "auth=auto" in process.stdout  # chosen from what is set: the token file
    assert tokens(entra_emulator, server_tls)["client_assertion"] > before
    assert assertion_file.read_text() not in process.output


def test_client_secret(run, entra_emulator, server_tls):
    before = tokens(entra_emulator, server_tls).get("client_secret", 0)
    process = run(entra_env(entra_emulator, server_tls, AZURE_CLIENT_ID=SECRET_CLIENT,
                            AZURE_CLIENT_SECRET=CLIENT_SECRET))
    process.expect(0)
    assert tokens(entra_emulator, server_tls)["client_secret"] == before + 1  # one token for the whole run


def test_managed_identity_through_imds(run, entra_emulator, server_tls):
    before = tokens(entra_emulator, server_tls).get("imds", 0)
    process = run(entra_env(entra_emulator, server_tls, BATCH_OFFLOAD_AUTH="managed-identity",
                            BATCH_OFFLOAD_IMDS_ENDPOINT=entra_emulator.url))
    process.expect(0)
    assert tokens(entra_emulator, server_tls)["imds"] > before


def test_refused_identity_is_bad_configuration(run, entra_emulator, server_tls):
    control(entra_emulator, server_tls, "POST", "stats/reset")
    process = run(entra_env(entra_emulator, server_tls, AZURE_CLIENT_ID=SECRET_CLIENT,
                            AZURE_CLIENT_SECRET="not-the-secret"))
    process.expect(2)
    assert "Entra ID refused the offloader's identity" in process.stdout
    assert "AADSTS7000215" in process.stdout
    assert "not-the-secret" not in process.output
    assert control(entra_emulator, server_tls, "GET", "stats")["operations"] == {}  # Batch never asked


def test_unreachable_token_endpoint_is_azure_unavailable(run, entra_emulator, server_tls):
    closed = f"https://127.0.0.1:{free_port()}"
    process = run(entra_env(entra_emulator, server_tls, AZURE_CLIENT_ID=SECRET_CLIENT,
                            AZURE_CLIENT_SECRET=CLIENT_SECRET, AZURE_AUTHORITY_HOST=closed,
                            BATCH_OFFLOAD_RETRY_BUDGET_SECONDS=2))
    process.expect(3)
    assert "cannot reach Entra ID for a token" in process.stdout


def test_storage_through_user_delegation_sas(run, entra_emulator, server_tls, azurite_oauth):
    storage = azurite_oauth.storage()
    container = "entra-data"
    try:
        storage.create_container(container)
    except Exception:  # created by an earlier run of this module's fixture
        pass
    prefix = f"team/{new_job_id('entra')}"
    storage.put_blob(container, f"{prefix}/input/a.txt", b"alpha")
    process = run(entra_env(entra_emulator, server_tls, AZURE_CLIENT_ID=SECRET_CLIENT,
                            AZURE_CLIENT_SECRET=CLIENT_SECRET, STORAGEACCOUNT=DEV_STORAGE_ACCOUNT,
                            BLOBENDPOINT=azurite_oauth.blob_endpoint, CONTAINER=container,
                            BLOBPREFIX=prefix))
    process.expect(0)
    names = storage.blob_names(container, f"{prefix}/")
    assert f"{prefix}/output/0/seen.txt" in names and f"{prefix}/output/1/seen.txt" in names
    assert storage.get_blob(container, f"{prefix}/output/1/seen.txt") == b"1 a.txt"
    assert f"{prefix}/logs/0/stdout.txt" in names
    assert "sig=" not in process.output or "sig=REDACTED" in process.output


def test_tokens_are_refreshed_before_they_expire(offloader_binary, tmp_path_factory, server_tls,
                                                federated_issuer, run):
    short = Emulator(tmp_path_factory.mktemp("short-tokens"),
                     extra_args=entra_emulator_args(server_tls, federated_issuer, token_lifetime=6))
    try:
        slow = WORKERSPEC.replace("print('worker'", "__import__('time').sleep(3); print('worker'")
        process = run(entra_env(short, server_tls, completions=4, AZURE_CLIENT_ID=SECRET_CLIENT,
                                AZURE_CLIENT_SECRET=CLIENT_SECRET, WORKERSPEC=slow,
                                COMPLETIONS=4))
        process.expect(0, timeout=180)
        stats = control(short, server_tls, "GET", "stats")
        issued = stats["tokens"]["client_secret"]
        requests = stats["total"]
        assert issued >= 2, stats                 # the run outlived a token
        assert issued < requests / 2, stats       # but tokens are reused, not fetched per request
    finally:
        short.stop()
