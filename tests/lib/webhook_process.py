"""Runs offload-webhook for tests, benchmarks and the demo: starts it on a free
loopback port, collects its JSON log lines, talks HTTPS to it, and stops it
checking that it exited cleanly and that no sanitizer reported anything."""
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "SUMMARY: UndefinedBehaviorSanitizer")
DEFAULT_IMAGE = "registry.example.com/batch-offload/offloader:0.1.0"


class WebhookProcess:
    def __init__(self, binary: Path, cert: Path, key: Path, ca: Path, *extra_args: str,
                 env: dict = None, offloader_image: str = DEFAULT_IMAGE):
        self.binary = Path(binary)
        self.ca = ca
        args = [str(self.binary), "--listen", "127.0.0.1:0", "--tls-cert", str(cert),
                "--tls-key", str(key), *extra_args]
        if "--offloader-image" not in extra_args:
            args += ["--offloader-image", offloader_image]
        full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "ASAN_OPTIONS": "detect_leaks=1", **(env or {})}
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        env=full_env, text=True)
        self.lines = []          # every stderr line, parsed JSON or raw text
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        serving = self.wait_for_log(lambda e: e.get("msg") == "serving", timeout=20)
        self.port = int(serving["port"])
        self.context = ssl.create_default_context(cafile=str(ca))

    def _read_stderr(self):
        for raw in self.process.stderr:
            raw = raw.rstrip("\n")
            try:
                entry = json.loads(raw)
            except ValueError:
                entry = {"raw": raw}
            with self._cond:
                self.lines.append(entry)
                self._cond.notify_all()

    def wait_for_log(self, predicate, timeout: float = 10.0, start: int = 0):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for entry in self.lines[start:]:
                    if predicate(entry):
                        return entry
                if self.process.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(f"webhook exited {self.process.returncode}: "
                                         f"{self.raw_log()[-2000:]}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"log line not seen in {timeout}s; log so far:\n"
                                         f"{self.raw_log()[-3000:]}")
                self._cond.wait(min(left, 0.2))

    def raw_log(self) -> str:
        with self._cond:
            return "\n".join(e.get("raw") or json.dumps(e) for e in self.lines)

    def log_entries(self, msg: str) -> list:
        with self._cond:
            return [e for e in self.lines if e.get("msg") == msg]

    # ---- talking to it ----
    def connect(self, timeout: float = 10.0, context: ssl.SSLContext = None):
        """A raw TLS socket (for tests that write bytes by hand)."""
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return (context or self.context).wrap_socket(raw, server_hostname="localhost")

    def http(self, timeout: float = 10.0) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                           context=self.context)

    def request(self, method: str, path: str, body=None, headers=None, conn=None):
        """(status, headers dict, body bytes); a fresh connection unless one is given."""
        own = conn is None
        conn = conn or self.http()
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        hdrs = {"Content-Type": "application/json"} if body is not None else {}
        hdrs.update(headers or {})
        conn.request(method, path, body=body, headers=hdrs)
        response = conn.getresponse()
        data = response.read()
        result = (response.status, {k.lower(): v for k, v in response.getheaders()}, data)
        if own:
            conn.close()
        return result

    def review(self, admission_review: dict, conn=None, path="/mutate?timeout=10s"):
        status, _, data = self.request("POST", path, admission_review, conn=conn)
        assert status == 200, data
        return json.loads(data)

    def metrics(self) -> str:
        status, _, data = self.request("GET", "/metrics")
        assert status == 200
        return data.decode()

    # ---- stopping ----
    def stop(self, sig=signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._reader.join(timeout=5)
        return code

    def assert_clean_exit(self, code: int):
        log = self.raw_log()
        for marker in SANITIZER_MARKERS:
            assert marker not in log, f"sanitizer report:\n{log[-4000:]}"
        assert code == 0, f"webhook exited {code}:\n{log[-3000:]}"


def metric_value(text: str, name: str, labels: str = "") -> float:
    """The value of one sample in Prometheus text, e.g. name='x_total', labels='outcome="ok"'."""
    wanted = f"{name}{{{labels}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(wanted + " "):
            return float(line.rsplit(" ", 1)[1])
    raise KeyError(wanted)
