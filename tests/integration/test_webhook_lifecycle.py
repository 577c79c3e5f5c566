"""The webhook's life: certificate rotation the way a Kubernetes Secret
volume does it (an atomic swap of the ..data symlink), a broken new pair,
SIGTERM with requests in flight, and the drain and shutdown-delay limits."""
import base64
import json
import os
import signal
import socket
import ssl
import time

import pytest

from admission_fixtures import load_fixture
from tls_material import serial_of
from webhook_process import metric_value


class SecretVolume:
    """A directory laid out like a mounted Secret: tls.crt -> ..data/tls.crt."""

    def __init__(self, root):
        self.root = root
        self.generation = 0

    def publish(self, cert: bytes, key: bytes):
        self.generation += 1
        version = self.root / f"..2026_11_23_{self.generation}"
        version.mkdir()
        (version / "tls.crt").write_bytes(cert)
        (version / "tls.key").write_bytes(key)
        tmp = self.root / "..data_tmp"
        tmp.symlink_to(version.name)
        os.replace(tmp, self.root / "..data")  # the atomic swap the kubelet does
        for name in ("tls.crt", "tls.key"):
            link = self.root / name
            if not link.is_symlink():
                link.symlink_to(f"..data/{name}")

    @property
    def cert(self):
        return self.root / "tls.crt"

    @property
    def key(self):
        return self.root / "tls.key"


def served_serial(webhook) -> int:
    sock = webhook.connect()
    der = sock.getpeercert(binary_form=True)
    sock.close()
    return serial_of(ssl.DER_cert_to_PEM_cert(der).encode())


def test_rotated_certificate_is_served_without_dropping_connections(start_webhook, ca,
                                                                    tmp_path):
    volume = SecretVolume(tmp_path / "secret")
    volume.root.mkdir()
    first_cert, first_key = ca.issue()
    volume.publish(first_cert, first_key)
    webhook = start_webhook(cert=volume.cert, key=volume.key)
    assert served_serial(webhook) == serial_of(first_cert)

    live = webhook.http()
    assert webhook.request("GET", "/healthz", conn=live)[0] == 200

    second_cert, second_key = ca.issue()
    mark = len(webhook.lines)
    volume.publish(second_cert, second_key)
    webhook.wait_for_log(lambda e: e.get("msg") == "serving certificate reloaded", start=mark)
    assert webhook.request("GET", "/healthz", conn=live)[0] == 200  # still the same connection
    assert served_serial(webhook) == serial_of(second_cert)

    # A key that does not match its certificate: the running pair stays.
    third_cert, _ = ca.issue()
    _, wrong_key = ca.issue()
    mark = len(webhook.lines)
    volume.publish(third_cert, wrong_key)
    failure = webhook.wait_for_log(
        lambda e: e.get("msg", "").startswith("serving certificate reload failed"), start=mark)
    assert "key" in failure["error"]
    assert served_serial(webhook) == serial_of(second_cert)
    assert webhook.request("GET", "/healthz", conn=live)[0] == 200

    # Garbage in the certificate file is reported the same way.
    mark = len(webhook.lines)
    volume.publish(b"-----BEGIN CERTIFICATE-----\nnot base64\n", second_key)
    webhook.wait_for_log(
        lambda e: e.get("msg", "").startswith("serving certificate reload failed"), start=mark)
    assert served_serial(webhook) == serial_of(second_cert)

    fourth_cert, fourth_key = ca.issue()
    mark = len(webhook.lines)
    volume.publish(fourth_cert, fourth_key)
    webhook.wait_for_log(lambda e: e.get("msg") == "serving certificate reloaded", start=mark)
    assert served_serial(webhook) == serial_of(fourth_cert)
    text = webhook.metrics()
    name = "batch_offload_webhook_certificate_reloads_total"
    assert metric_value(text, name, 'result="success"') == 2
    assert metric_value(text, name, 'result="failure"') == 2
    live.close()


def test_sighup_reloads_at_once(start_webhook, ca, tmp_path):
    volume = SecretVolume(tmp_path / "secret")
    volume.root.mkdir()
    volume.publish(*ca.issue())
    webhook = start_webhook(cert=volume.cert, key=volume.key)
    cert, key = ca.issue()
    mark = len(webhook.lines)
    volume.publish(cert, key)
    webhook.process.send_signal(signal.SIGHUP)
    webhook.wait_for_log(lambda e: e.get("msg") == "serving certificate reloaded", start=mark,
                         timeout=3)
    assert served_serial(webhook) == serial_of(cert)


def test_unreadable_certificate_at_start_is_an_error(build, tls_files, tmp_path):
    import subprocess
    result = subprocess.run(
        [str(build / "offload-webhook"), "--listen", "127.0.0.1:0", "--tls-cert",
         str(tmp_path / "missing.pem"), "--tls-key", str(tls_files[1]), "--offloader-image",
         "registry.example.com/o:1"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    entry = json.loads(result.stderr.strip().splitlines()[-1])
    assert entry["msg"] == "cannot load the serving certificate"
    assert "missing.pem" in entry["error"]


@pytest.mark.parametrize("key_type", ["rsa", "ec"])
def test_key_must_match_its_certificate(build, ca, tmp_path, key_type):
    import subprocess
    cert, key = ca.issue(key_type=key_type)
    _, other_key = ca.issue(key_type=key_type)
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    (tmp_path / "other.pem").write_bytes(other_key)
    args = [str(build / "offload-webhook"), "--listen", "127.0.0.1:0", "--tls-cert",
            str(tmp_path / "cert.pem"), "--offloader-image", "registry.example.com/o:1"]
    refused = subprocess.run(args + ["--tls-key", str(tmp_path / "other.pem")],
                             capture_output=True, text=True, timeout=30)
    assert refused.returncode == 1
    assert "does not match" in refused.stderr
    serving = subprocess.Popen(args + ["--tls-key", str(tmp_path / "key.pem")],
                               stderr=subprocess.PIPE, text=True)
    assert '"msg":"serving"' in serving.stderr.readline()
    serving.terminate()
    assert serving.wait(timeout=10) == 0


def test_sigterm_finishes_in_flight_requests_then_exits(start_webhook):
    webhook = start_webhook("--body-timeout", "30")
    body = json.dumps(load_fixture("kubectl-job")).encode()
    in_flight = webhook.connect(timeout=10)
    in_flight.sendall(b"POST /mutate HTTP/1.1\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body) + body[:100])
    idle = webhook.http()
    assert webhook.request("GET", "/healthz", conn=idle)[0] == 200
    time.sleep(0.3)  # the head has been read
    webhook.process.send_signal(signal.SIGTERM)
    webhook.wait_for_log(lambda e: e.get("msg") == "stopping")
    # No new connections once draining.
    deadline = time.monotonic() + 5
    refused = False
    while time.monotonic() < deadline and not refused:
        try:
            socket.create_connection(("127.0.0.1", webhook.port), timeout=1).close()
            time.sleep(0.05)
        except OSError:
            refused = True
    assert refused
    # The in-flight request still gets its whole answer, then the close.
    in_flight.sendall(body[100:])
    answer = b""
    while True:
        chunk = in_flight.recv(65536)
        if not chunk:
            break
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert b"Connection: close" in answer
    review = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert base64.b64decode(review["response"]["patch"])
    assert webhook.process.wait(timeout=10) == 0
    idle.close()


def test_shutdown_delay_keeps_serving_but_not_ready(start_webhook):
    webhook = start_webhook("--shutdown-delay", "2")
    webhook.process.send_signal(signal.SIGTERM)
    webhook.wait_for_log(lambda e: e.get("msg") == "stopping")
    status, _, body = webhook.request("GET", "/readyz")
    assert (status, body) == (503, b"shutting down\n")
    assert webhook.request("GET", "/healthz")[0] == 200
    assert webhook.review(load_fixture("kubectl-job"))["response"]["allowed"]
    assert webhook.process.wait(timeout=10) == 0


def test_drain_timeout_bounds_a_stuck_client(start_webhook):
    webhook = start_webhook("--body-timeout", "60", "--drain-timeout", "1")
    stuck = webhook.connect()
    stuck.sendall(b"POST /mutate HTTP/1.1\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000\r\n\r\n{")
    time.sleep(0.3)
    started = time.monotonic()
    webhook.process.send_signal(signal.SIGTERM)
    assert webhook.process.wait(timeout=10) == 0
    assert time.monotonic() - started < 4
    webhook.wait_for_log(lambda e: e.get("msg") == "drain timeout: closing connections still open")
    stuck.close()


def test_sigint_stops_like_sigterm(start_webhook):
    webhook = start_webhook()
    webhook.process.send_signal(signal.SIGINT)
    assert webhook.process.wait(timeout=10) == 0
    assert webhook.wait_for_log(lambda e: e.get("msg") == "stopping")["signal"] == "SIGINT"
