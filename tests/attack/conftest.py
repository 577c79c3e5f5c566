"""Fixtures of the attack suite: the builds attacked (the sanitizer builds of `make test`, for
reports, and the shipped static build, for memory) and a serving certificate per build."""
import os
import resource
from dataclasses import dataclass
from pathlib import Path

import pytest

from repo_paths import REPO_ROOT as REPO
from tls_material import CertificateAuthority

SHIPPED_BUILD = "build/openssl-static"  # what tools/build-images.sh puts in the image

# Storms open thousands of sockets; the webhook inherits the limit.
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(_hard, 16384), _hard))


@dataclass
class AttackedBuild:
    name: str
    binary: Path
    sanitized: bool


def attacked_builds():
    """$BATCH_OFFLOAD_BUILDS (sanitizer builds) and the shipped build, all required when the
    variable is set (make test); otherwise whichever of them exist."""
    listed = os.environ.get("BATCH_OFFLOAD_BUILDS", "").split()
    wanted = (listed or ["build/openssl-asan", "build/wolfssl-asan"]) + [SHIPPED_BUILD]
    builds = [AttackedBuild(Path(d).name, REPO / d / "offload-webhook", d != SHIPPED_BUILD)
              for d in wanted]
    missing = [str(b.binary) for b in builds if not b.binary.exists()]
    if listed and missing:
        raise RuntimeError(f"builds to attack are not built: {missing}")
    return [b for b in builds if b.binary.exists()]


BUILDS = attacked_builds()


@pytest.fixture(scope="module", params=BUILDS, ids=[b.name for b in BUILDS])
def attack_build(request) -> AttackedBuild:
    return request.param


@pytest.fixture(scope="module")
def attack_tls_files(tmp_path_factory, attack_build):
    directory = tmp_path_factory.mktemp(f"tls-{attack_build.name}")
    ca = CertificateAuthority()
    cert, key = ca.issue()
    (directory / "cert.pem").write_bytes(cert)
    (directory / "key.pem").write_bytes(key)
    ca.write(directory / "ca.pem")
    return directory / "cert.pem", directory / "key.pem", directory / "ca.pem"
