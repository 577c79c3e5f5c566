"""certs/make-certs.sh: a CA and a serving certificate the API server would accept, rotation that
keeps the CA and switches the pair atomically, and a caBundle that is the CA."""
import base64
import os
import subprocess
import threading

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtensionOID

from repo_paths import REPO_ROOT
from x509_inspect import (dns_names, has_server_auth, ip_addresses, is_ca,
                          key_matches_certificate, load_certificate, openssl_verify)

MAKE_CERTS = REPO_ROOT / "certs" / "make-certs.sh"
SERVICE_NAMES = ["webhook", "webhook.platform", "webhook.platform.svc", "webhook.platform.svc.cluster.local"]


def make_certs(out, *args, check=True):
    result = subprocess.run(["bash", str(MAKE_CERTS), "--out", str(out), *args],
                            capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def issued(tmp_path):
    """A CA and serving certificate for webhook.platform, with the --local SANs."""
    out = tmp_path / "tls"
    result = make_certs(out, "--service", "webhook", "--namespace", "platform", "--local")
    return out, result.stdout


def test_serving_certificate_verifies_against_the_ca(issued):
    out, _ = issued
    verified = openssl_verify((out / "ca.crt").read_bytes(), (out / "tls.crt").read_bytes())
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_names_usages_and_key(issued):
    out, _ = issued
    certificate = load_certificate((out / "tls.crt").read_bytes())
    assert dns_names(certificate) == SERVICE_NAMES + ["localhost"]
    assert ip_addresses(certificate) == ["127.0.0.1", "::1"]
    assert certificate.subject.rfc4514_string() == "CN=webhook.platform.svc"
    assert has_server_auth(certificate)
    usage = certificate.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE)
    assert usage.critical and usage.value.digital_signature
    assert not usage.value.key_encipherment  # an ECDSA key never encrypts (RFC 5480)
    assert not is_ca(certificate)
    assert isinstance(certificate.public_key(), ec.EllipticCurvePublicKey)
    assert certificate.public_key().curve.name == "secp256r1"
    assert key_matches_certificate((out / "tls.key").read_bytes(), certificate)
    assert (out / "tls.key").stat().st_mode & 0o077 == 0
    assert (out / "ca.key").stat().st_mode & 0o077 == 0


def test_ca_is_a_ca(issued):
    out, _ = issued
    authority = load_certificate((out / "ca.crt").read_bytes())
    assert is_ca(authority)
    usage = authority.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE).value
    assert usage.key_cert_sign and usage.crl_sign


def test_printed_ca_bundle_is_the_ca(issued):
    out, stdout = issued
    assert stdout.count("\n") == 1  # one line: nothing else on stdout
    assert base64.b64decode(stdout.strip(), validate=True) == (out / "ca.crt").read_bytes()


def test_rsa_keys_on_request(tmp_path):
    out = tmp_path / "tls"
    make_certs(out, "--key-type", "rsa", "--san", "IP:10.0.0.1", "--san", "DNS:webhook.example.com")
    certificate = load_certificate((out / "tls.crt").read_bytes())
    assert isinstance(certificate.public_key(), rsa.RSAPublicKey)
    assert certificate.public_key().key_size == 2048
    usage = certificate.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE).value
    assert usage.digital_signature and usage.key_encipherment
    assert dns_names(certificate)[-1] == "webhook.example.com"
    assert ip_addresses(certificate) == ["10.0.0.1"]
    assert openssl_verify((out / "ca.crt").read_bytes(), (out / "tls.crt").read_bytes()).returncode == 0


def test_running_again_keeps_everything(issued):
    out, stdout = issued
    before = {name: (out / name).read_bytes() for name in ("ca.crt", "ca.key", "tls.crt", "tls.key")}
    again = make_certs(out)
    assert again.stdout == stdout
    assert {name: (out / name).read_bytes() for name in before} == before
    assert "keeping the serving certificate" in again.stderr


def test_rotate_keeps_the_ca_and_replaces_the_pair(issued):
    out, stdout = issued
    ca_before, cert_before, key_before = ((out / n).read_bytes() for n in ("ca.crt", "tls.crt", "tls.key"))
    generation_before = os.readlink(out / "..data")

    rotated = make_certs(out, "--rotate", "--service", "webhook", "--namespace", "platform")
    assert rotated.stdout == stdout  # same caBundle: nothing to change in the cluster
    assert (out / "ca.crt").read_bytes() == ca_before
    cert_after, key_after = (out / "tls.crt").read_bytes(), (out / "tls.key").read_bytes()
    assert cert_after != cert_before and key_after != key_before
    assert openssl_verify(ca_before, cert_after).returncode == 0
    assert key_matches_certificate(key_after, load_certificate(cert_after))
    # The pair lives in a new generation; the old one is gone.
    assert os.readlink(out / "tls.crt") == "..data/tls.crt" and os.readlink(out / "tls.key") == "..data/tls.key"
    assert os.readlink(out / "..data") != generation_before
    assert not (out / generation_before).exists()
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["..data", os.readlink(out / "..data"), "ca.crt", "ca.key", "tls.crt", "tls.key"])


def test_readers_never_see_a_mixed_or_partial_pair(issued):
    """A reader that resolves ..data once gets a matching pair, whatever rotates meanwhile."""
    out, _ = issued
    rotating = True
    seen, problems = [], []

    def read_pairs():
        while rotating:
            try:
                generation = out / os.readlink(out / "..data")
                certificate = load_certificate((generation / "tls.crt").read_bytes())
                key = (generation / "tls.key").read_bytes()
            except FileNotFoundError:
                continue  # that generation was just retired; the next read finds the new one
            if not key_matches_certificate(key, certificate):
                problems.append(generation.name)
            seen.append(generation.name)

    reader = threading.Thread(target=read_pairs)
    reader.start()
    try:
        for _ in range(5):
            make_certs(out, "--rotate")
    finally:
        rotating = False
        reader.join()
    assert problems == []
    assert len(set(seen)) >= 2  # the reader did see rotations happen


def test_failed_rotation_keeps_the_current_pair(issued):
    out, _ = issued
    cert_before = (out / "tls.crt").read_bytes()
    (out / "ca.key").write_text("not a key\n")
    failed = make_certs(out, "--rotate", check=False)
    assert failed.returncode != 0
    assert "signing the serving certificate failed" in failed.stderr
    assert (out / "tls.crt").read_bytes() == cert_before
    assert len([p for p in out.iterdir() if p.name.startswith("..generation.")]) == 1


@pytest.mark.parametrize("args, message", [
    (["--service", "Webhook"], "--service 'Webhook' is not a DNS label"),
    (["--namespace", "a_b"], "--namespace 'a_b' is not a DNS label"),
    (["--key-type", "dsa"], "--key-type must be ecdsa or rsa"),
    (["--days", "0"], "--days must be a whole number of days"),
    (["--san", "URI:x"], "use DNS:name or IP:address"),
    (["--san", "bad name"], "is not a DNS name"),
    (["--frobnicate"], "unknown option '--frobnicate'"),
])
def test_bad_arguments_are_refused(tmp_path, args, message):
    result = make_certs(tmp_path / "tls", *args, check=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "tls").exists()


def test_half_a_ca_is_refused(tmp_path):
    out = tmp_path / "tls"
    out.mkdir()
    (out / "ca.crt").write_text("x")
    result = make_certs(out, check=False)
    assert result.returncode == 2 and "only one of ca.crt and ca.key" in result.stderr


def test_help():
    result = subprocess.run(["bash", str(MAKE_CERTS), "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for option in ("--out", "--service", "--namespace", "--san", "--local", "--key-type", "--rotate"):
        assert option in result.stdout
