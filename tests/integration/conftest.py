"""Fixtures for the integration tests: which builds to test (both TLS
backends under the sanitizers, from `make test`), serving certificates, and a
running webhook per build."""
import os
from pathlib import Path

import pytest

from repo_paths import REPO_ROOT
from tls_material import CertificateAuthority
from webhook_process import WebhookProcess


def build_dirs():
    """The builds under test: $BATCH_OFFLOAD_BUILDS, else what exists."""
    listed = os.environ.get("BATCH_OFFLOAD_BUILDS", "").split()
    candidates = listed or ["build/openssl-asan", "build/wolfssl-asan", "build/openssl"]
    found = [REPO_ROOT / d for d in candidates if (REPO_ROOT / d / "offload-webhook").exists()]
    if listed and len(found) != len(listed):
        raise RuntimeError(f"BATCH_OFFLOAD_BUILDS names builds that are not built: {listed}")
    return found or [REPO_ROOT / "build" / "openssl"]


BUILDS = build_dirs()


@pytest.fixture(scope="session", params=BUILDS, ids=[b.name for b in BUILDS])
def build(request) -> Path:
    return request.param


@pytest.fixture(scope="session")
def ca():
    return CertificateAuthority()


@pytest.fixture
def tls_files(tmp_path, ca):
    """cert.pem, key.pem and ca.pem of a fresh serving certificate."""
    cert, key = ca.issue()
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    ca.write(tmp_path / "ca.pem")
    return tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"


@pytest.fixture
def start_webhook(build, tls_files):
    """Starts webhooks (with extra flags) and checks each one exits cleanly."""
    started = []

    def start(*args, env=None, cert=None, key=None):
        c, k, ca_file = tls_files
        wh = WebhookProcess(build / "offload-webhook", cert or c, key or k, ca_file, *args,
                            env=env)
        started.append(wh)
        return wh

    yield start
    for wh in started:
        wh.assert_clean_exit(wh.stop())


@pytest.fixture
def webhook(start_webhook):
    return start_webhook("--header-timeout", "2", "--body-timeout", "2", "--idle-timeout", "3")


def load_fixture(name: str) -> dict:
    import json
    return json.loads((REPO_ROOT / "tests" / "fixtures" / "admission" / f"{name}.json").read_text())
