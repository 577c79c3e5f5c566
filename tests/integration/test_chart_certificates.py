"""charts/batch-offload: the three certificate modes. The API server must trust the serving
certificate the pods mount, through the caBundle (helm, provided) or cert-manager's injector.

helm mode's reuse on upgrade depends on `lookup`, which needs a cluster; here a FakeKubeApi
plays the cluster for `helm template --dry-run=server`, holding what a previous install left."""
import base64
import subprocess

import pytest

from fake_kube_api import FakeKubeApi
from helm_chart import find, find_all, render, render_error
from repo_paths import REPO_ROOT, deps_binary_or_skip
from x509_inspect import (dns_names, has_server_auth, is_ca, key_matches_certificate,
                          load_certificate, openssl_verify)

SERVICE_NAMES = ["rel-batch-offload", "rel-batch-offload.batch-offload", "rel-batch-offload.batch-offload.svc",
                 "rel-batch-offload.batch-offload.svc.cluster.local"]


@pytest.fixture(autouse=True)
def helm():
    return deps_binary_or_skip("helm")


def tls_secret(objects):
    return find(objects, "Secret", "rel-batch-offload-tls")


def ca_bundle(objects):
    [webhook] = find(objects, "MutatingWebhookConfiguration")["webhooks"]
    return webhook["clientConfig"].get("caBundle")


def mounted_secret(objects):
    [volume] = find(objects, "Deployment")["spec"]["template"]["spec"]["volumes"]
    return volume["secret"]["secretName"]


def decoded(secret, key) -> bytes:
    return base64.b64decode(secret["data"][key])


def test_helm_mode_ca_bundle_verifies_the_mounted_certificate():
    objects = render()
    secret = tls_secret(objects)
    assert secret["type"] == "kubernetes.io/tls"
    assert mounted_secret(objects) == secret["metadata"]["name"]
    assert ca_bundle(objects) == secret["data"]["ca.crt"]

    ca_pem, cert_pem = base64.b64decode(ca_bundle(objects)), decoded(secret, "tls.crt")
    verified = openssl_verify(ca_pem, cert_pem)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    certificate = load_certificate(cert_pem)
    assert sorted(dns_names(certificate)) == sorted(SERVICE_NAMES)
    assert has_server_auth(certificate)
    assert key_matches_certificate(decoded(secret, "tls.key"), certificate)
    assert is_ca(load_certificate(ca_pem))


def test_helm_template_without_a_cluster_makes_a_new_pair_each_time():
    # `lookup` returns nothing under plain `helm template`: expected, and why GitOps tools that
    # render with `helm template` should use certManager or provided mode.
    assert tls_secret(render())["data"] != tls_secret(render())["data"]


def test_helm_mode_reuses_the_secret_of_the_previous_install():
    first = render()
    previous = tls_secret(first)
    api = FakeKubeApi([previous])
    upgraded = render(api=api)
    assert tls_secret(upgraded)["data"] == previous["data"]
    assert ca_bundle(upgraded) == ca_bundle(first)
    assert "/api/v1/namespaces/batch-offload/secrets/rel-batch-offload-tls" in api.requests


def test_helm_mode_regenerate_makes_a_new_pair_even_with_a_previous_secret():
    previous = tls_secret(render())
    upgraded = render({"certificates": {"helm": {"regenerate": True}}}, api=FakeKubeApi([previous]))
    assert tls_secret(upgraded)["data"]["ca.crt"] != previous["data"]["ca.crt"]
    assert ca_bundle(upgraded) == tls_secret(upgraded)["data"]["ca.crt"]


def test_helm_mode_replaces_an_incomplete_secret():
    previous = tls_secret(render())
    del previous["data"]["ca.crt"]  # e.g. written by hand without the CA: no caBundle to reuse
    upgraded = render(api=FakeKubeApi([previous]))
    assert tls_secret(upgraded)["data"]["tls.crt"] != previous["data"]["tls.crt"]
    assert ca_bundle(upgraded) == tls_secret(upgraded)["data"]["ca.crt"]


def test_cert_manager_mode_bootstraps_a_ca_and_injects_it():
    objects = render({"certificates": {"mode": "certManager"}})
    assert not find_all(objects, "Secret")  # cert-manager writes the Secret
    configuration = find(objects, "MutatingWebhookConfiguration")
    assert configuration["metadata"]["annotations"] == {
        "cert-manager.io/inject-ca-from": "batch-offload/rel-batch-offload-serving"}
    assert ca_bundle(objects) is None  # filled in by cert-manager's CA injector

    self_signed = find(objects, "Issuer", "rel-batch-offload-selfsigned")
    assert self_signed["spec"] == {"selfSigned": {}}
    ca = find(objects, "Certificate", "rel-batch-offload-ca")["spec"]
    assert ca["isCA"] is True
    assert ca["issuerRef"] == {"name": "rel-batch-offload-selfsigned", "kind": "Issuer", "group": "cert-manager.io"}
    ca_issuer = find(objects, "Issuer", "rel-batch-offload-ca")
    assert ca_issuer["spec"] == {"ca": {"secretName": ca["secretName"]}}

    serving = find(objects, "Certificate", "rel-batch-offload-serving")["spec"]
    assert serving["issuerRef"] == {"name": "rel-batch-offload-ca", "kind": "Issuer", "group": "cert-manager.io"}
    assert serving["dnsNames"] == SERVICE_NAMES
    assert serving["usages"] == ["server auth", "digital signature"]
    assert serving["privateKey"] == {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"}
    assert serving["secretName"] == mounted_secret(objects) == "rel-batch-offload-tls"


def test_cert_manager_mode_with_an_existing_issuer():
    objects = render({"certificates": {"mode": "certManager", "certManager": {
        "issuerRef": {"name": "corp-ca", "kind": "ClusterIssuer"}, "privateKeyAlgorithm": "RSA"}}})
    assert not find_all(objects, "Issuer")
    [serving] = find_all(objects, "Certificate")
    assert serving["spec"]["issuerRef"] == {"name": "corp-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    assert serving["spec"]["usages"] == ["server auth", "digital signature", "key encipherment"]
    assert serving["spec"]["privateKey"]["size"] == 2048


def test_provided_mode_wires_the_given_secret_and_ca_bundle():
    objects = render({"certificates": {"mode": "provided", "provided": {"secretName": "my-tls", "caBundle": "Y2E="}}})
    assert not find_all(objects, "Secret") and not find_all(objects, "Certificate")
    assert mounted_secret(objects) == "my-tls"
    assert ca_bundle(objects) == "Y2E="
    assert "annotations" not in find(objects, "MutatingWebhookConfiguration")["metadata"]


@pytest.mark.parametrize("provided, message", [
    ({"caBundle": "Y2E="}, "certificates.provided.secretName is required when certificates.mode is provided"),
    ({"secretName": "my-tls"}, "certificates.provided.caBundle is required when certificates.mode is provided"),
])
def test_provided_mode_refuses_missing_parts(provided, message):
    assert message in render_error({"certificates": {"mode": "provided", "provided": provided}})


def test_provided_mode_takes_make_certs_output(tmp_path):
    out = tmp_path / "tls"
    made = subprocess.run(["bash", str(REPO_ROOT / "certs" / "make-certs.sh"), "--out", str(out),
                           "--service", "rel-batch-offload", "--namespace", "batch-offload"],
                          check=True, capture_output=True, text=True, timeout=120)
    bundle = made.stdout.strip()
    objects = render({"certificates": {"mode": "provided", "provided": {"secretName": "tls", "caBundle": bundle}}})
    assert ca_bundle(objects) == bundle  # the schema's base64 pattern accepts the real thing
    verified = openssl_verify(base64.b64decode(bundle), (out / "tls.crt").read_bytes())
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert sorted(dns_names(load_certificate((out / "tls.crt").read_bytes()))) == sorted(SERVICE_NAMES)
