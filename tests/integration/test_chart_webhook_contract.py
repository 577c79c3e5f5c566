"""The chart, make-certs.sh and the real webhook agree: the webhook starts with exactly the command
line the chart renders, serves the certificate make-certs.sh made under the Service's DNS name, and
picks up a rotated pair from the kubelet-style directory without a restart.

Runs each webhook build named in $BATCH_OFFLOAD_BUILDS (as `make test` sets it), else
build/openssl; skipped when none is built."""
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from helm_chart import CHART_DIR, find, render
from loopback import free_port
from repo_paths import REPO_ROOT, deps_binary_or_skip

SERVICE_DNS_NAME = "rel-batch-offload.batch-offload.svc"  # what the API server dials
MOUNT = "/etc/batch-offload/tls"


def webhook_builds():
    listed = os.environ.get("BATCH_OFFLOAD_BUILDS", "").split() or ["build/openssl"]
    return [REPO_ROOT / build / "offload-webhook" for build in listed]


@pytest.fixture(params=webhook_builds(), ids=lambda path: path.parent.name)
def webhook_binary(request):
    if not request.param.exists():
        pytest.skip(f"{request.param} is not built: run `make` (or `make test`)")
    return request.param


@pytest.fixture
def certificates(tmp_path):
    out = tmp_path / "tls"
    subprocess.run(["bash", str(REPO_ROOT / "certs" / "make-certs.sh"), "--out", str(out),
                    "--service", "rel-batch-offload", "--namespace", "batch-offload"],
                   check=True, capture_output=True, timeout=120)
    return out


def help_defaults(webhook_binary) -> dict:
    """--help's "[VARIABLE, default X]" of each flag, by flag."""
    text = subprocess.run([str(webhook_binary), "--help"], capture_output=True, text=True,
                          check=True).stdout
    return dict(re.findall(r"^  (--[a-z-]+)[^\n]*\n[^\n]*default ([^\]]+)\]", text, re.M))


def test_the_chart_sizes_the_server_as_the_webhook_does_by_default(webhook_binary):
    """The limits the attack suite measures under the chart's memory limit are the webhook's
    own defaults too, so a webhook run without the chart is bounded the same way."""
    defaults = help_defaults(webhook_binary)
    [container] = find(render(), "Deployment")["spec"]["template"]["spec"]["containers"]
    rendered = dict(arg.split("=", 1) for arg in container["args"])
    for flag in ("--threads", "--max-connections", "--max-body-bytes", "--max-buffered-bytes"):
        assert rendered[flag] == defaults[flag], flag


# Values that make the chart render every flag it can (test_every_flag_the_chart_can_render_is_run
# checks that), with a short shutdown delay so stopping stays quick.
EVERY_FLAG_VALUES = {
    "offload": {"namespaces": ["team-a", "team-b"], "defaultPool": "pool-1", "allowedPools": ["pool-1", "pool_2"],
                "maxCompletions": 5000, "secretEnv": "deny", "defaultStorageContainer": "jobs-data", "defaultVmSize": "Standard_D2s_v3",
                "offloaderAuth": "workload-identity",
                "autoPool": {"image": "canonical:ubuntu-24_04-lts:server:latest",
                             "nodeAgentSku": "batch.node.ubuntu 24.04", "taskSlotsPerNode": 4,
                             "nodeFillType": "pack", "autoscaleFormula": "$TargetDedicatedNodes = 2;",
                             "maxNodes": 50, "spotFallback": "dedicated", "spotFallbackSeconds": 600},
                "gpu": {"pool": "pool_2", "vmSize": "Standard_NC6s_v3", "image": "microsoft-dsvm:ubuntu-hpc:2404:latest",
                        "nodeAgentSku": "batch.node.ubuntu 24.04"}},
    # Workload identity and Kubernetes API access together: both name the one ServiceAccount.
    "credentials": {"workloadIdentity": {"enabled": True, "clientId": "00000000-0000-0000-0000-000000000001"}},
    "offloader": {"kubernetesAccess": True},
    "webhook": {"logLevel": "debug", "shutdownDelaySeconds": 1},
}


def rendered_args() -> list:
    deps_binary_or_skip("helm")
    [container] = find(render(EVERY_FLAG_VALUES), "Deployment")["spec"]["template"]["spec"]["containers"]
    return container["args"]


def chart_args(tls_dir: Path, port: int) -> list:
    """The webhook's args as the chart renders them (every flag in use), pointed at local files."""
    args = [arg.replace(MOUNT, str(tls_dir)) for arg in rendered_args()]
    assert args[0] == "--listen=0.0.0.0:8443"
    return [f"--listen=127.0.0.1:{port}"] + args[1:]


def flag_name(arg: str) -> str:
    return arg.split("=", 1)[0]


def test_every_flag_the_chart_can_render_is_run(webhook_binary):
    """Each flag in templates/_webhook-args.tpl is in the command line the runtime test below starts the
    real webhook with, and is one the binary documents in --help (so a renamed or removed flag fails here
    with its name, not as a crash-looping pod)."""
    template = (CHART_DIR / "templates" / "_webhook-args.tpl").read_text()
    template_flags = set(re.findall(r"^- (--[a-z][a-z0-9-]*)", template, re.MULTILINE))
    assert len(template_flags) >= 15, template_flags
    rendered = [flag_name(arg) for arg in rendered_args()]
    assert len(rendered) == len(set(rendered)), f"a flag is rendered twice: {rendered}"
    assert set(rendered) == template_flags
    help_text = subprocess.run([str(webhook_binary), "--help"], capture_output=True, text=True,
                               timeout=30).stdout
    documented = set(re.findall(r"^  (--[a-z][a-z0-9-]*)", help_text, re.MULTILINE))
    assert template_flags <= documented, f"not in {webhook_binary.name} --help: {template_flags - documented}"


def served_certificate_and_status(port: int, ca_file: Path, path: str):
    """(DER of the served certificate, HTTP status of GET path), verified as the API server would."""
    context = ssl.create_default_context(cafile=str(ca_file))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=SERVICE_DNS_NAME) as tls:
            tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {SERVICE_DNS_NAME}\r\nConnection: close\r\n\r\n".encode())
            status_line = tls.recv(4096).split(b"\r\n", 1)[0].decode()
            return tls.getpeercert(binary_form=True), int(status_line.split()[1])


def der_of(pem_file: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem_file.read_text())


def wait_for(condition, process, timeout=15.0):
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the webhook exited with {process.returncode}: {process.stderr.read()}")
        try:
            if condition():
                return
        except OSError as error:  # not listening yet, or mid-reload
            last_error = error
        time.sleep(0.2)
    pytest.fail(f"timed out; last error: {last_error}")


def test_webhook_runs_with_the_chart_command_line_and_reloads_rotated_certificates(webhook_binary, certificates):
    port = free_port()
    process = subprocess.Popen([str(webhook_binary), *chart_args(certificates, port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        ca_file = certificates / "ca.crt"
        wait_for(lambda: served_certificate_and_status(port, ca_file, "/readyz")[1] == 200, process)
        served, _ = served_certificate_and_status(port, ca_file, "/healthz")
        assert served == der_of(certificates / "tls.crt")

        subprocess.run(["bash", str(REPO_ROOT / "certs" / "make-certs.sh"), "--out", str(certificates),
                        "--rotate", "--service", "rel-batch-offload", "--namespace", "batch-offload"],
                       check=True, capture_output=True, timeout=120)
        rotated = der_of(certificates / "tls.crt")
        assert rotated != served
        # The same caBundle still verifies the new pair; no restart needed.
        wait_for(lambda: served_certificate_and_status(port, ca_file, "/healthz")[0] == rotated, process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    log = process.stderr.read()
    assert process.returncode == 0, log
    # The shutdown flags took effect: not ready, serving for --shutdown-delay, then draining.
    [stopping] = [entry for entry in map(json.loads, filter(None, log.splitlines())) if entry.get("msg") == "stopping"]
    assert (stopping["shutdown_delay_s"], stopping["drain_timeout_s"]) == (1, 20)
