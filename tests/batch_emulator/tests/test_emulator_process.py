# The emulator as a program: port 0 and --port-file, the ready line, HTTPS with --tls-cert/--tls-key,
# and a clean exit on SIGTERM or SIGINT that leaves no task process behind.
import datetime
import ipaddress
import signal
import ssl
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from batch_emulator.testing import EMULATOR, PYTHON, Emulator, stop_process, wait_until


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_port_file_and_clean_exit_killing_running_tasks(tmp_path, stop_signal):
    port_file, pid_file = tmp_path / "port", tmp_path / "task.pid"
    emulator = Emulator(tmp_path / "emulator", extra_args=["--port-file", str(port_file)])
    try:
        assert emulator.url == f"http://127.0.0.1:{emulator.port}"
        assert int(port_file.read_text()) == emulator.port
        client = emulator.client()
        client.create_pool("pool")
        client.create_job("job")
        client.add_task("job", {"id": "sleeper", "commandLine": f"{PYTHON} -c 'import os, sys, time; "
                                f"open(sys.argv[1], \"w\").write(str(os.getpid())); time.sleep(600)' {pid_file}"})
        task_pid = int(wait_until(lambda: pid_file.exists() and pid_file.read_text()))
        assert _alive(task_pid)
        emulator.process.send_signal(stop_signal)
        assert emulator.process.wait(20) == 0
    finally:
        stop_process(emulator.process)
    wait_until(lambda: not _alive(task_pid), 10, "the task process to be gone")


def _self_signed(directory):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "batch-emulator")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .sign(key, hashes.SHA256()))
    (directory / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    return directory / "cert.pem", directory / "key.pem"


def test_https_with_a_certificate(tmp_path):
    cert, key = _self_signed(tmp_path)
    emulator = Emulator(tmp_path / "emulator", extra_args=["--tls-cert", str(cert), "--tls-key", str(key)])
    try:
        assert emulator.url.startswith("https://127.0.0.1:")
        client = emulator.client(tls_context=ssl.create_default_context(cafile=str(cert)))
        client.create_job("job")
        assert client.get_job("job")["url"] == f"{emulator.url}/jobs/job"
        client.close()
    finally:
        assert emulator.stop() == 0


def test_bad_arguments_are_refused():
    for arguments in (["--slots", "0"], ["--tls-cert", "cert.pem"], []):
        finished = subprocess.run([PYTHON, str(EMULATOR), *arguments], capture_output=True, text=True, timeout=30)
        assert finished.returncode == 2 and "error" in finished.stderr
