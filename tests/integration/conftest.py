"""Fixtures for the integration tests: which builds to test (both TLS
backends under the sanitizers, from `make test`), serving certificates, a
running webhook per build, a Kubernetes control plane for the session, and
the kubelet stand-in that runs its pods."""
import os
import uuid
from pathlib import Path

import pytest

from batch_emulator.testing import wait_until
from control_plane import ASSETS_VARIABLE, NOT_SET, ControlPlane, kube_assets
from kubelet_standin import KubeletStandIn
from offloader_process import build_skip_reason
from repo_paths import REPO_ROOT, deps_binary_or_skip
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


def skip_reason(item):
    """Why a test does not run here, or None."""
    if "control_plane" in item.fixturenames and not os.environ.get(ASSETS_VARIABLE):
        return NOT_SET
    if "offloader_binary" in item.fixturenames:
        module = item.module.__name__.rsplit(".", 1)[-1]
        return build_skip_reason(item.callspec.params["build"], module, BUILDS)
    return None


def pytest_collection_modifyitems(items):
    """Tests that cannot or need not run here are skipped by a mark, not from inside a fixture,
    so that `-rs` folds each reason into one line per file."""
    for item in items:
        reason = skip_reason(item)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory):
    """etcd, kube-apiserver and kube-controller-manager on loopback, started once for the session
    (tests/lib/control_plane.py). Skipped without BATCH_OFFLOAD_KUBE_ASSETS; set but wrong: an error."""
    assets = kube_assets()
    if assets is None:
        pytest.skip(NOT_SET)
    plane = ControlPlane(assets, tmp_path_factory.mktemp("control-plane"), deps_binary_or_skip("kubectl"))
    yield plane
    plane.stop()


@pytest.fixture
def namespace(control_plane):
    """A fresh namespace, once its default ServiceAccount is there."""
    name = f"jobs-{uuid.uuid4().hex[:8]}"
    control_plane.kubectl("create", "namespace", name)
    # Pods need the namespace's ServiceAccount, which its controller makes a moment later.
    wait_until(lambda: control_plane.kubectl("get", "serviceaccount", "default", "-n", name,
                                             check=False).returncode == 0,
               timeout=30, what=f"the default ServiceAccount of {name}")
    return name


# Short enough for a test to see tokens rotate (a kubelet rotates at 80 % of a token's life, which
# the API server makes at least 10 minutes).
KUBELET_TOKEN_REFRESH_SECONDS = 2


@pytest.fixture(scope="module")
def kubelet_images():
    """Image reference -> argv of the local program the kubelet stand-in runs for it; a module whose
    pods run overrides this fixture with the images they use."""
    return {}


@pytest.fixture(scope="module")
def kubelet(control_plane, kubelet_images, tmp_path_factory):
    """The kubelet stand-in (tests/lib/kubelet_standin.py) of one Node, once per module: it runs the
    pods of the namespaces it serves (kubelet_namespace) as local processes."""
    standin = KubeletStandIn(control_plane, kubelet_images, tmp_path_factory.mktemp("kubelet"),
                             token_refresh_seconds=KUBELET_TOKEN_REFRESH_SECONDS)
    yield standin
    standin.stop()


@pytest.fixture
def kubelet_namespace(kubelet, namespace):
    """A fresh namespace whose pods the kubelet stand-in runs. Afterwards what still runs there is
    killed, and a fault inside the stand-in fails the test."""
    kubelet.serve(namespace)
    yield namespace
    kubelet.release(namespace)
    failures = list(kubelet.failures)
    kubelet.failures.clear()
    assert not failures, "the kubelet stand-in failed:\n" + "\n".join(failures)


@pytest.fixture
def webhook(start_webhook):
    return start_webhook("--header-timeout", "2", "--body-timeout", "2", "--idle-timeout", "3")

