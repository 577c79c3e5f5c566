"""Runs batch-offloader against the Batch emulator for the integration tests.

OffloaderProcess starts the program with an environment built only from what the test gives (nothing
of the runner's environment leaks in), reads stdout and stderr on threads, waits with deadlines, sends
signals, and checks what every run must satisfy: no sanitizer report and no secret printed.

The pytest fixtures (import them into a test module, as batch_emulator.testing's are):
    from offloader_process import batch, offload_emulator, offloader, offloader_binary  # noqa: F401
  offloader_binary  the batch-offloader of the `build` under test (ASan builds only when any is tested)
  offload_emulator  one emulator per module with the probe image map (tests/lib/offloader_probe.py)
  batch             a client of that emulator, reset (jobs, faults, stats) before the test
  offloader         start(completions=..., **env) -> OffloaderProcess; run(...) waits for the exit;
                    every process is stopped and checked at the end of the test
"""
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from batch_emulator.testing import ACCOUNT, KEY, PYTHON, Emulator, wait_until

PROBE = Path(__file__).with_name("offloader_probe.py")
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "LeakSanitizer", "runtime error:",
                     "SUMMARY: UndefinedBehaviorSanitizer", "AddressSanitizer:DEADLYSIGNAL")
# Secrets some tests hand to the offloader; no run may print any of them (nor the account key).
REGISTRY_PASSWORD = "registry-pa55word-never-printed"
SECRET_ENV_VALUE = "secret-env-value-never-printed"
PULL_SECRET_PASSWORD = "pull-secret-pa55word-never-printed"
ALL_SECRETS = (KEY, REGISTRY_PASSWORD, SECRET_ENV_VALUE, PULL_SECRET_PASSWORD)

PROBE_IMAGE = {"entrypoint": [PYTHON, str(PROBE)], "cmd": ["image-default-cmd"],
               "env": {"IMAGE_VARIABLE": "from-image"}}
IMAGE_MAP = {"images": {
    "probe:1": PROBE_IMAGE,
    "registry.example.com/team/probe:2": PROBE_IMAGE,
    # Says "image-entrypoint" unless `command` replaced its ENTRYPOINT.
    "echo-entrypoint:1": {"entrypoint": ["/bin/echo", "image-entrypoint"], "cmd": ["image-cmd"]},
    "true:1": {"entrypoint": ["/bin/true"]},
}}
EMULATOR_SLOTS = 8


class OffloaderProcess:
    """One batch-offloader process; .code once it exited, .stdout/.stderr/.output as text."""

    def __init__(self, binary, env, args=()):
        self.env = dict(env)
        full_env = {"PATH": "/usr/bin:/bin", "ASAN_OPTIONS": "detect_leaks=1",
                    "UBSAN_OPTIONS": "print_stacktrace=1", **self.env}
        self.started = time.monotonic()
        self.ended = None
        self.checked = False
        self.process = subprocess.Popen([str(binary), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        stdin=subprocess.DEVNULL, env=full_env, start_new_session=True)
        self._cond = threading.Condition()
        self._out, self._err = [], []
        self._readers = [threading.Thread(target=self._read, args=(stream, lines), daemon=True)
                         for stream, lines in ((self.process.stdout, self._out), (self.process.stderr, self._err))]
        for reader in self._readers:
            reader.start()

    def _read(self, stream, lines):
        for raw in stream:
            with self._cond:
                lines.append(raw.decode("utf-8", "replace"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    @property
    def stdout(self):
        with self._cond:
            return "".join(self._out)

    @property
    def stderr(self):
        with self._cond:
            return "".join(self._err)

    @property
    def output(self):
        return self.stdout + self.stderr

    @property
    def code(self):
        return self.process.poll()

    @property
    def seconds(self):
        """How long it ran (so far)."""
        return (self.ended or time.monotonic()) - self.started

    def wait(self, timeout=120):
        """The exit code; kills the process and fails the test when it does not exit in time."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"batch-offloader did not exit within {timeout}s; output:\n"
                                 f"{self.output[-6000:]}") from None
        if self.ended is None:
            self.ended = time.monotonic()
        for reader in self._readers:
            reader.join(10)
        return code

    def wait_for_output(self, pattern, timeout=60):
        """The first match of pattern (a regex) in stdout, waiting for it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                match = re.search(pattern, "".join(self._out))
                if match:
                    return match
                if self.process.poll() is not None and not any(r.is_alive() for r in self._readers):
                    raise AssertionError(f"batch-offloader exited {self.process.returncode} before printing "
                                         f"{pattern!r}; output:\n{self.output[-6000:]}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{pattern!r} not printed within {timeout}s; output:\n"
                                         f"{self.output[-6000:]}")
                self._cond.wait(min(left, 0.2))

    def send_signal(self, sig):
        if self.process.poll() is None:
            self.process.send_signal(sig)

    def kill(self):
        """SIGKILL, like a node that vanished or an OOM kill."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        if self.ended is None:
            self.ended = time.monotonic()
        for reader in self._readers:
            reader.join(10)

    def check_clean(self, secrets=ALL_SECRETS):
        """No sanitizer report, no secret in the output."""
        self.checked = True
        output = self.output
        for marker in SANITIZER_MARKERS:
            assert marker not in output, f"sanitizer report ({marker}):\n{output[-8000:]}"
        for secret in secrets:
            assert secret not in output, f"a secret was printed:\n{output[-4000:]}"

    def expect(self, code, timeout=120):
        """Waits for the exit, checks it is `code` and the run is clean; returns self."""
        actual = self.wait(timeout)
        self.check_clean()
        assert actual == code, f"exit code {actual}, expected {code}; output:\n{self.output[-6000:]}"
        return self

    def lines(self, text):
        """stdout lines containing text."""
        return [line for line in self.stdout.splitlines() if text in line]


def new_job_id(label="job"):
    return f"{label[:40]}-{uuid.uuid4().hex[:12]}"


def base_env(emulator, completions=1, job_id=None):
    """The variables every run needs, for `completions` workers of probe:1 on an auto pool."""
    return {"BATCHCONNECTIONSTRING": emulator.url, "BATCHNAME": ACCOUNT, "BATCHPASSWORD": KEY,
            "JOBID": job_id or new_job_id(), "WORKERIMAGENAME": "probe:1", "COMPLETIONS": str(completions),
            # the tests' jobs are short: follow them closely
            "BATCH_OFFLOAD_POLL_MAX_SECONDS": "1"}


# ----- reading the emulator -----

def stats(batch):
    return batch.control("GET", "stats")


def operation_count(batch, operation_id):
    return stats(batch)["operations"].get(operation_id, 0)


def job_status(batch, job_id):
    """The job's state, or None when it does not exist (deleted)."""
    reply = batch.request("GET", f"/jobs/{job_id}")
    if reply.status == 404:
        return None
    assert reply.status == 200, reply
    return reply.json["state"]


def wait_job_gone(batch, job_id, timeout=30):
    wait_until(lambda: job_status(batch, job_id) is None, timeout, f"job {job_id} to be deleted")


def list_tasks(batch, job_id, select="id,state,executionInfo"):
    """Every task of the job (all pages)."""
    reply = batch.request("GET", f"/jobs/{job_id}/tasks", query={"$select": select, "maxresults": "1000"})
    tasks = []
    while True:
        assert reply.status == 200, reply
        tasks += reply.json["value"]
        link = reply.json.get("odata.nextLink")
        if not link:
            return tasks
        reply = batch.follow(link)


def task_report(batch, job_id, task_id):
    """What the probe printed for a task (argv, cwd, task, env)."""
    import json
    return json.loads(batch.task_file(job_id, task_id, "stdout.txt").decode("utf-8").splitlines()[0])


def worker_ids(count):
    return {str(i) for i in range(count)}


# ----- pytest fixtures -----

# Where the TLS backend makes a difference to the offloader: its HMAC, hashes and random bytes (Shared
# Key, SAS, tokens). HTTP is libcurl's either way, so the other modules would repeat the same run.
BACKEND_SENSITIVE_MODULES = {"test_offloader_success", "test_offloader_config", "test_offloader_entra"}


def build_skip_reason(build: Path, module: str, builds: list):
    """Why a module's offloader tests skip a build (None: they run on it). These tests are about
    behaviour under the sanitizers: when ASan builds are among the builds under test, a plain build
    is skipped (it adds minutes and no coverage); asked for alone (BATCH_OFFLOAD_BUILDS), it is
    tested. With several builds, the wolfSSL one runs the modules where the backend matters. The
    integration tests' conftest skips by this before the tests run, so -rs folds the reasons."""
    if not build.name.endswith("-asan") and any(b.name.endswith("-asan") for b in builds):
        return f"{build.name}: the offloader tests run on the ASan builds"
    if build.name.startswith("wolfssl") and len(builds) > 1 and module not in BACKEND_SENSITIVE_MODULES:
        return f"{build.name}: {module} does not depend on the TLS backend (libcurl does the HTTP)"
    return None


@pytest.fixture(scope="module")
def offloader_binary(build):
    """The batch-offloader of the build under test (which builds run: build_skip_reason)."""
    binary = build / "batch-offloader"
    assert binary.exists(), f"{binary} is not built (make SAN=asan programs)"
    return binary


@pytest.fixture(scope="module")
def offload_emulator(tmp_path_factory):
    running = Emulator(tmp_path_factory.mktemp("offload-emulator"), slots=EMULATOR_SLOTS, image_map=IMAGE_MAP)
    yield running
    assert running.stop() == 0, "the emulator did not exit cleanly"


@pytest.fixture
def batch(offload_emulator):
    """A client of the module's emulator, reset: no jobs, pools, faults or counted requests."""
    client = offload_emulator.client()
    client.control("POST", "reset")
    yield client
    client.control("DELETE", "faults")
    client.close()


class Offloader:
    """Starts offloaders for one test; every one is stopped and checked when the test ends."""

    def __init__(self, binary, emulator):
        self.binary = binary
        self.emulator = emulator
        self.started = []

    def env(self, completions=1, job_id=None, **extra):
        env = base_env(self.emulator, completions, job_id)
        env.update({name: str(value) for name, value in extra.items() if value is not None})
        for name in [name for name, value in extra.items() if value is None]:
            env.pop(name, None)
        return env

    def start(self, completions=1, job_id=None, args=(), env=None, **extra):
        """env: the whole environment (base_env is not used); extra: variables over base_env
        (None removes one)."""
        process = OffloaderProcess(self.binary, env if env is not None else self.env(completions, job_id, **extra),
                                   args)
        self.started.append(process)
        return process

    def run(self, completions=1, job_id=None, args=(), env=None, timeout=120, **extra):
        process = self.start(completions, job_id, args, env, **extra)
        process.wait(timeout)
        return process

    def finish(self):
        for process in self.started:
            if process.code is None:
                process.kill()
            if not process.checked:
                process.check_clean()


@pytest.fixture
def offloader(offloader_binary, offload_emulator):
    runs = Offloader(offloader_binary, offload_emulator)
    yield runs
    runs.finish()
