"""The offloader and the Kubernetes API (docs/KUBERNETES.md), end to end against the real control plane:
kube-apiserver with RBAC and the real webhook registered as the chart registers it (with
--offloader-api-access), the real Job controller and garbage collector, and the kubelet stand-in
running the offloader pod's container as the local batch-offloader, with the service-account token
the API server's admission gives the pod and the environment the webhook's patch gives it. Batch is
the emulator (the credentials Secret points at it); the offloader's ServiceAccount, Role and
RoleBinding are the chart's.

Covered: a Job that succeeds (Complete, the result, progress and batch-job annotations, Events); a
worker that fails (the Job Failed by the podFailurePolicy, a TaskFailed Event with the exit code
and the first stderr line); a Batch outage (exit 3: a new pod re-attaches, no task runs twice);
an eviction while the tasks are being added (the Batch job left running, the replacement
re-attaches and adds nothing twice, the Job completes); `kubectl delete job` in the foreground and
the background, and a Job past its activeDeadlineSeconds (the Batch job terminated); suspend and
resume (the Batch job disabled, then enabled); a kill during the final delete (the replacement obeys
the recorded result and creates nothing); a 10,000-task Job, whose Events and progress annotation
stay within their rate limits; the Role not bound and the API server unreachable (one warning,
nothing held up, the Job completes all the same). Needs BATCH_OFFLOAD_KUBE_ASSETS: skipped, saying
so, without it."""
import base64
import collections
import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.parse
from pathlib import Path

import pytest

from batch_emulator.testing import ACCOUNT, KEY, wait_until
from helm_chart import find, render
from offloader_process import (ALL_SECRETS, SANITIZER_MARKERS, batch, job_status,  # noqa: F401
                               offload_emulator, offloader_binary, stats)

WORKER_IMAGE = "probe:1"  # the emulator runs tests/lib/offloader_probe.py for it
TRUE_IMAGE = "true:1"  # /bin/true
CREDENTIALS_SECRET = "batch-offload-credentials"
OFFLOADER_CONTAINER = "batch-offloader"
RESULT = "batch-offload.io/result"
PROGRESS = "batch-offload.io/progress"
BATCH_JOB = "batch-offload.io/batch-job"
REPORTING_COMPONENT = "batch-offload.io/offloader"
TIMEOUT = 45  # seconds for anything the control plane, the offloader and the emulator do together
# The Job controller waits this long before it replaces a failed pod (its first back-off).
REPLACEMENT_TIMEOUT = 10 + TIMEOUT
MERGE_PATCH = "application/merge-patch+json"


def chart_objects(namespace: str, ca_bundle: str = "") -> list:
    """The chart rendered for one offload namespace, with offloader API access (its default)."""
    values = {"offload": {"namespaces": [namespace]}}
    if ca_bundle:
        values["certificates"] = {"mode": "provided", "provided": {"secretName": "unused-here",
                                                                   "caBundle": ca_bundle}}
    return render(values)


def webhook_args(objects: list) -> list:
    [container] = find(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    return container["args"]


def flag_value(args: list, flag: str) -> str:
    [value] = [arg.split("=", 1)[1] for arg in args if arg.startswith(flag + "=")]
    return value


@pytest.fixture(scope="module")
def kubelet_images(offloader_binary):
    """The chart's offloader image is the local batch-offloader. The image's environment follows
    the tests' short jobs closely (as the other offloader tests do); nothing else is added."""
    image = flag_value(webhook_args(chart_objects("any")), "--offloader-image")
    return {image: ["/usr/bin/env", "BATCH_OFFLOAD_POLL_MAX_SECONDS=1", "ASAN_OPTIONS=detect_leaks=1",
                    str(offloader_binary)]}


def secret(name: str, data: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
            "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}}


def offloaded_job(name: str, completions: int, worker_env: dict = None, image: str = WORKER_IMAGE,
                  **spec) -> dict:
    """A Job of `completions` workers of `image`, annotated to be offloaded; backoffLimit 0 (no task
    retries) unless spec says otherwise."""
    container = {"name": "worker", "image": image,
                 "env": [{"name": key, "value": str(value)} for key, value in (worker_env or {}).items()]}
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "annotations": {"batch-offload.io/enabled": "true"}},
            "spec": {"completions": completions, "parallelism": completions, "backoffLimit": 0, **spec,
                     "template": {"spec": {"restartPolicy": "Never", "containers": [container]}}}}


def condition(obj: dict, kind: str):
    return next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == kind), None)


class Offload:
    """One test's namespace with the webhook registered, the chart's offloader RBAC and the
    credentials Secret; Jobs go in, and what the API server, the kubelet stand-in and the Batch
    emulator saw comes out."""

    def __init__(self, plane, kubelet, namespace: str, batch, started_dir: Path):
        self.plane, self.kubelet, self.namespace, self.batch = plane, kubelet, namespace, batch
        self.started_dir = started_dir

    # ---- the Kubernetes side ----
    def submit(self, job: dict) -> dict:
        """kubectl apply of the Job; the Job as stored (rewritten by the webhook)."""
        self.plane.apply(job, self.namespace)
        stored = self.job(job["metadata"]["name"])
        [container] = stored["spec"]["template"]["spec"]["containers"]
        assert container["name"] == OFFLOADER_CONTAINER, "the webhook did not rewrite the Job"
        return stored

    def job_path(self, name: str) -> str:
        return f"/apis/batch/v1/namespaces/{self.namespace}/jobs/{name}"

    def job(self, name: str):
        """The Job as stored, None once it is gone."""
        try:
            return self.plane.api("GET", self.job_path(name))
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise

    def patch_job(self, name: str, patch: dict):
        self.plane.api("PATCH", self.job_path(name), patch, content_type=MERGE_PATCH)

    def wait_for_condition(self, name: str, kind: str, timeout: float = TIMEOUT) -> dict:
        """The Job once its `kind` condition is True."""
        def reached():
            job = self.job(name)
            found = job and condition(job, kind)
            return job if found and found["status"] == "True" else None
        return wait_until(reached, timeout=timeout, interval=0.2, what=f"Job {name} {kind}")

    def annotations(self, name: str) -> dict:
        return self.job(name)["metadata"].get("annotations", {})

    def result(self, name: str):
        """The durable result the offloader recorded on the Job, parsed; None when there is none."""
        text = self.annotations(name).get(RESULT)
        return json.loads(text) if text else None

    def pods(self, name: str) -> list:
        """The Job's pods, oldest first."""
        pods = self.plane.get("pods", namespace=self.namespace, selector=f"batch.kubernetes.io/job-name={name}")
        return sorted(pods, key=lambda pod: pod["metadata"]["creationTimestamp"])

    def pod(self, name: str, besides: tuple = (), timeout: float = TIMEOUT) -> str:
        """The name of the Job's pod that is none of `besides` (earlier pods, which may be gone by now),
        once the Job controller made it and its offloader said something."""
        def made():
            return next((pod["metadata"]["name"] for pod in self.pods(name)
                         if pod["metadata"]["name"] not in besides), None)
        pod = wait_until(made, timeout=timeout, interval=0.2,
                         what=f"{'another' if besides else 'the'} pod of Job {name}")
        self.wait_for_log(pod, "batch-offloader: ")
        return pod

    def logs(self, pod: str) -> str:
        return self.kubelet.logs(self.namespace, pod)

    def wait_for_log(self, pod: str, text: str, timeout: float = TIMEOUT):
        wait_until(lambda: text in self.logs(pod), timeout=timeout, interval=0.1,
                   what=f"{text!r} in the log of {pod}")

    def wait_for_exit(self, pod: str, timeout: float = TIMEOUT) -> int:
        """The offloader's exit code, once it exited."""
        [code] = wait_until(lambda: (code := self.kubelet.exit_code(self.namespace, pod)) is not None and [code],
                            timeout=timeout, interval=0.1, what=f"the offloader of {pod} to exit")
        return code

    def events(self, name: str) -> list:
        """The offloader's Events on the Job, in the order the API server stored them (last
        written: creationTimestamp has only whole seconds)."""
        listed = self.plane.api("GET", f"/api/v1/namespaces/{self.namespace}/events?fieldSelector="
                                + urllib.parse.quote(f"involvedObject.kind=Job,involvedObject.name={name}"))
        mine = [event for event in listed["items"] if event.get("reportingComponent") == REPORTING_COMPONENT]
        return sorted(mine, key=lambda event: int(event["metadata"]["resourceVersion"]))

    def event(self, name: str, reason: str) -> dict:
        """The one Event of that reason on the Job, waiting for it."""
        found = wait_until(lambda: [e for e in self.events(name) if e["reason"] == reason], timeout=TIMEOUT,
                           interval=0.2, what=f"a {reason} Event on Job {name}")
        assert len(found) == 1, found
        return found[0]

    def check_offloader_runs(self):
        """What every offloader pod's run must satisfy: no sanitizer report, no secret printed."""
        for pod in self.kubelet.pod_names(self.namespace):
            log = self.logs(pod)
            for marker in SANITIZER_MARKERS:
                assert marker not in log, f"sanitizer report in {pod}:\n{log[-6000:]}"
            for hidden in ALL_SECRETS:
                assert hidden not in log, f"{pod} printed a secret:\n{log[-3000:]}"

    # ---- the Batch side ----
    @staticmethod
    def batch_job_id(job: dict) -> str:
        return f"k8s-{job['metadata']['uid']}"

    def batch_job(self, job: dict):
        """The Batch job's state, None once it is gone."""
        return job_status(self.batch, self.batch_job_id(job))

    def operations(self) -> dict:
        return stats(self.batch)["operations"]

    def task_starts(self, job: dict) -> collections.Counter:
        """How many times each task of the Job's Batch job started (PROBE_STARTED_DIR's files)."""
        prefix = self.batch_job_id(job) + "."
        return collections.Counter(path.name[len(prefix):].rsplit(".", 1)[0]
                                   for path in self.started_dir.iterdir() if path.name.startswith(prefix))

    def probe_env(self, **extra) -> dict:
        """The worker env that makes each task say it started."""
        return {"PROBE_STARTED_DIR": str(self.started_dir), **extra}


@pytest.fixture
def offload(control_plane, kubelet, kubelet_namespace, start_webhook, offload_emulator, batch, tmp_path):
    """The namespace set up as the chart sets up an offload namespace, the real webhook (run with
    the chart's flags) registered with the API server through the chart's
    MutatingWebhookConfiguration (its URL on loopback), and the credentials Secret pointing at the
    Batch emulator."""
    namespace = kubelet_namespace
    # The webhook first (its serving CA goes into the configuration), with the chart's flags.
    # Its own loopback port and certificate; and no delay to stop (time for the endpoints to update).
    args = [arg for arg in webhook_args(chart_objects(namespace))
            if not arg.startswith(("--listen=", "--tls-", "--shutdown-delay="))]
    image = flag_value(args, "--offloader-image")
    args = [arg for arg in args if not arg.startswith("--offloader-image=")]
    webhook = start_webhook(*args, "--offloader-image", image)
    webhook_ca = base64.b64encode(Path(webhook.ca).read_bytes()).decode()
    objects = chart_objects(namespace, webhook_ca)
    for obj in objects:
        if obj["metadata"].get("namespace") == namespace:  # ServiceAccount, Role, RoleBinding
            control_plane.apply(obj)
    control_plane.apply(secret(CREDENTIALS_SECRET, {"BATCHCONNECTIONSTRING": offload_emulator.url,
                                                    "BATCHNAME": ACCOUNT, "BATCHPASSWORD": KEY}), namespace)
    config = find(objects, "MutatingWebhookConfiguration")
    [hook] = config["webhooks"]
    hook["clientConfig"] = {"url": f"https://127.0.0.1:{webhook.port}/mutate", "caBundle": webhook_ca}
    control_plane.apply(config)

    # The API server takes a new configuration up asynchronously: a server-side dry run shows
    # when Jobs go through this webhook.
    def rewrites():
        probe = control_plane.kubectl("create", "--dry-run=server", "-n", namespace, "-o", "json", "-f", "-",
                                      input=json.dumps(offloaded_job("probe", 1)), check=False)
        return probe.returncode == 0 and json.loads(probe.stdout)["spec"]["template"]["spec"]["containers"][0][
            "name"] == OFFLOADER_CONTAINER
    wait_until(rewrites, timeout=30, interval=0.2, what="the API server to call the webhook")
    started_dir = tmp_path / "started"
    started_dir.mkdir()
    running = Offload(control_plane, kubelet, namespace, batch, started_dir)
    yield running
    running.check_offloader_runs()
    control_plane.kubectl("delete", "mutatingwebhookconfiguration", config["metadata"]["name"])


@pytest.fixture
def image_env(kubelet, kubelet_images):
    """image_env(NAME=value, ...): the offloader image's environment gets these variables from now
    on (pods started later see them); put back as it was after the test."""
    [(image, argv)] = kubelet_images.items()

    def add(**variables):
        kubelet.images[image] = [argv[0], *(f"{name}={value}" for name, value in variables.items()), *argv[1:]]
    yield add
    kubelet.images[image] = argv


@pytest.fixture
def unanswering_port():
    """A loopback port that takes connections and never says a word: what a pod sees of a server its
    traffic to is dropped by a NetworkPolicy, or of one that hangs."""
    listener = socket.create_server(("127.0.0.1", 0))
    held, stopping = [], threading.Event()

    def accept():
        while not stopping.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                return
    thread = threading.Thread(target=accept, name="unanswering port", daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stopping.set()
    listener.close()
    for connection in held:
        connection.close()


class JobWatch:
    """Watches one Job from before it exists: every version the API server stores, with when it
    arrived, so that a test can count the offloader's annotation writes (a poll could miss some)."""

    def __init__(self, plane, namespace: str, name: str, seconds: int = 120):
        self.versions = []  # (monotonic time, Job)
        self._lock = threading.Lock()
        api = urllib.parse.urlsplit(plane.url)
        self._connection = http.client.HTTPSConnection(api.hostname, api.port, context=plane.tls)
        selector = urllib.parse.quote(f"metadata.name={name}")
        self._connection.request("GET", f"/apis/batch/v1/namespaces/{namespace}/jobs?watch=true"
                                 f"&fieldSelector={selector}&timeoutSeconds={seconds}",
                                 headers={"Authorization": f"Bearer {plane.token}"})
        self._answer = self._connection.getresponse()
        assert self._answer.status == 200, self._answer.read()
        self._thread = threading.Thread(target=self._read, name=f"watch {name}", daemon=True)
        self._thread.start()

    def _read(self):
        try:
            for line in self._answer:
                event = json.loads(line)
                if event["type"] in ("ADDED", "MODIFIED"):
                    with self._lock:
                        self.versions.append((time.monotonic(), event["object"]))
        except (OSError, ValueError, http.client.HTTPException):
            pass  # closed by stop()

    def annotation_writes(self, key: str) -> list:
        """(arrival time, value) of each change of the annotation, in order."""
        writes, last = [], None
        with self._lock:
            versions = list(self.versions)
        for arrived, job in versions:
            value = job["metadata"].get("annotations", {}).get(key)
            if value != last:
                writes.append((arrived, value))
                last = value
        return [write for write in writes if write[1] is not None]

    def stop(self):
        """Ends the stream under the reading thread, then closes the connection."""
        try:
            self._connection.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._thread.join(timeout=5)
        self._connection.close()


# ---- the work ends by itself ----

def test_a_job_that_succeeds_completes_with_its_result_progress_and_events(offload, offload_emulator):
    job = offload.submit(offloaded_job("succeeds", 3, offload.probe_env()))
    batch_job = offload.batch_job_id(job)

    done = offload.wait_for_condition("succeeds", "Complete")
    [pod] = offload.pods("succeeds")
    pod_name = pod["metadata"]["name"]
    assert offload.wait_for_exit(pod_name) == 0
    annotations = done["metadata"]["annotations"]
    result = json.loads(annotations[RESULT])
    assert {key: result[key] for key in ("outcome", "exitCode", "batchJob", "tasks", "succeeded", "failed")} == {
        "outcome": "succeeded", "exitCode": 0, "batchJob": batch_job, "tasks": 3, "succeeded": 3, "failed": 0}
    assert result["reason"] == "all 3 tasks succeeded" and result["recordedAt"].endswith("Z")
    assert annotations[PROGRESS] == "3 succeeded, 0 failed, 0 running, 0 waiting of 3"
    assert annotations[BATCH_JOB] == f"{batch_job} at {offload_emulator.url}"

    events = offload.events("succeeds")
    assert [event["reason"] for event in events if event["reason"] in ("Submitted", "Completed")] == [
        "Submitted", "Completed"]
    submitted, completed = offload.event("succeeds", "Submitted"), offload.event("succeeds", "Completed")
    assert batch_job in submitted["message"] and "3 tasks" in submitted["message"]
    assert completed["message"] == "all 3 tasks succeeded"
    for event in events:
        assert event["type"] == "Normal", event
        assert event["source"]["component"] == REPORTING_COMPONENT
        assert event["reportingInstance"] == pod_name
        assert event["involvedObject"]["uid"] == job["metadata"]["uid"]
        assert event["count"] == 1
    assert offload.task_starts(job) == {"0": 1, "1": 1, "2": 1}
    wait_until(lambda: offload.batch_job(job) is None, timeout=TIMEOUT, what="the Batch job to be deleted")


def test_a_failed_worker_fails_the_job_through_its_pod_failure_policy(offload):
    # Task 1 fails a moment after the others succeeded (the failure ends the Batch job, which would
    # stop a task still running), writing 200 lines to stderr, longer than the tail the log shows.
    env = offload.probe_env(PROBE_FAIL_TASKS="1", PROBE_FAIL_CODE="7", PROBE_STDERR_LINES="200",
                            PROBE_SLEEP_TASKS="1", PROBE_SLEEP_SECONDS=3)
    job = offload.submit(offloaded_job("fails", 3, env))

    failed = offload.wait_for_condition("fails", "Failed")
    reason = condition(failed, "Failed")
    assert reason["reason"] == "PodFailurePolicy", reason
    assert "exit code 1 matching FailJob rule" in reason["message"], reason
    [pod] = offload.pods("fails")  # exit 1 is final: no second pod
    assert offload.wait_for_exit(pod["metadata"]["name"]) == 1
    task_failed = offload.event("fails", "TaskFailed")
    assert task_failed["type"] == "Warning"
    assert task_failed["message"] == "task 1 failed after 0 retries, exit code 7: probe filler line 0000 of task 1"
    assert "| probe-last-line task=1" in offload.logs(pod["metadata"]["name"])  # the log has the end
    assert offload.event("fails", "Failed")["type"] == "Warning"
    result = offload.result("fails")
    assert (result["outcome"], result["exitCode"], result["succeeded"], result["failed"]) == ("failed", 1, 2, 1)
    assert result["batchJob"] == offload.batch_job_id(job)


# ---- the offloader pod stops: the Batch job runs on, the next pod carries on ----

def test_after_a_batch_outage_a_new_pod_re_attaches_and_no_task_runs_twice(offload, image_env):
    image_env(BATCH_OFFLOAD_RETRY_BUDGET_SECONDS=3)  # a short outage is enough to give up
    job = offload.submit(offloaded_job("outage", 3, offload.probe_env(PROBE_SLEEP_SECONDS=2)))
    first = offload.pod("outage")
    offload.wait_for_log(first, "tasks submitted")

    offload.batch.control("POST", "faults", {"status": 503, "count": 1000000})
    assert offload.wait_for_exit(first) == 3
    assert "Azure Batch did not answer usefully" in offload.logs(first)
    offload.batch.control("DELETE", "faults")

    second = offload.pod("outage", besides=(first,), timeout=REPLACEMENT_TIMEOUT)
    offload.wait_for_condition("outage", "Complete")
    assert offload.wait_for_exit(second) == 0
    assert "re-attached to the existing Batch job" in offload.logs(second)
    seen = stats(offload.batch)
    assert seen["operations"]["Jobs_CreateJob"] == 1, seen["operations"]
    assert seen["maxTaskAdds"] == 1, seen
    assert offload.task_starts(job) == {"0": 1, "1": 1, "2": 1}
    assert offload.event("outage", "ReAttached")["reportingInstance"] == second
    assert offload.result("outage")["outcome"] == "succeeded"


def test_an_evicted_pod_leaves_the_batch_job_running_for_its_replacement(offload):
    # Evicted while it adds the tasks: the collections it sent land late, after it is gone.
    offload.batch.control("POST", "faults", {"delay": 6, "count": 100, "operations": ["addtaskcollection"]})
    job = offload.submit(offloaded_job("evicted", 250, offload.probe_env()))
    first = offload.pod("evicted")
    wait_until(lambda: offload.operations().get("Tasks_CreateTaskCollection"), timeout=TIMEOUT,
               what="the offloader to add tasks")

    offload.plane.api("POST", f"/api/v1/namespaces/{offload.namespace}/pods/{first}/eviction",
                      {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": first}})
    assert offload.wait_for_exit(first, timeout=15) == 143  # at once, not at the end of the grace period
    offload.batch.control("DELETE", "faults")
    log = offload.logs(first)
    assert "the Batch job runs on" in log and "the pod was disrupted" in log, log
    assert "tasks submitted" not in log, log
    operations = offload.operations()
    for untouched in ("Jobs_TerminateJob", "Jobs_DisableJob", "Jobs_DeleteJob"):
        assert untouched not in operations, operations
    assert offload.batch_job(job) == "active"
    assert offload.event("evicted", "LeftRunning")["reportingInstance"] == first

    second = offload.pod("evicted", besides=(first,), timeout=REPLACEMENT_TIMEOUT)
    done = offload.wait_for_condition("evicted", "Complete")
    assert done["status"].get("failed", 0) == 0  # the podFailurePolicy ignored the disruption
    log = offload.logs(second)
    assert "re-attached to the existing Batch job" in log, log
    assert "tasks submitted added=0 already_there=250" in log, log
    seen = stats(offload.batch)
    assert seen["operations"]["Jobs_CreateJob"] == 1 and seen["maxTaskAdds"] == 1, seen
    assert "Jobs_TerminateJob" not in seen["operations"] and "Jobs_DisableJob" not in seen["operations"]
    assert offload.task_starts(job) == {str(task): 1 for task in range(250)}
    assert offload.event("evicted", "ReAttached")["reportingInstance"] == second


# ---- the Job is deleted or suspended: the Batch job follows ----

# A parametrized fixture, not a mark: the file's skip stays one line of -rs.
@pytest.fixture(params=["background", "foreground"])
def cascade(request) -> str:
    return request.param


def test_kubectl_delete_job_terminates_the_batch_job(offload, cascade):
    keeps = offloaded_job("deleted", 2, offload.probe_env(PROBE_SLEEP_SECONDS=120))
    keeps["metadata"]["annotations"]["batch-offload.io/keep-batch-job"] = "true"  # to look at it after
    job = offload.submit(keeps)
    pod = offload.pod("deleted")
    wait_until(lambda: sum(offload.task_starts(job).values()) == 2, timeout=TIMEOUT, what="the tasks to start")

    offload.plane.kubectl("delete", "job", "deleted", "-n", offload.namespace, f"--cascade={cascade}")
    assert offload.wait_for_exit(pod, timeout=15) == 143
    log = offload.logs(pod)
    assert "stop requested: terminating the Batch job" in log and "the Kubernetes Job was deleted" in log, log
    assert offload.operations().get("Jobs_TerminateJob") == 1, offload.operations()
    wait_until(lambda: offload.batch_job(job) == "completed", timeout=TIMEOUT, what="the Batch job to end")
    batch_job = offload.batch.get_job(offload.batch_job_id(job))
    assert batch_job["executionInfo"]["terminateReason"] == "batch-offload: the Kubernetes Job was deleted"
    made_by = {"batch-offload.io/created-by": "batch-offload", "batch-offload.io/namespace": offload.namespace,
               "batch-offload.io/job-name": "deleted", "batch-offload.io/job-uid": job["metadata"]["uid"]}
    assert made_by.items() <= {item["name"]: item["value"] for item in batch_job["metadata"]}.items()
    assert offload.event("deleted", "Cancelled")["message"] == "the Job was deleted: the Batch job was terminated"
    assert offload.job("deleted") is None


def test_a_job_that_runs_out_of_time_terminates_the_batch_job(offload):
    job = offload.submit(offloaded_job("overdue", 2, offload.probe_env(PROBE_SLEEP_SECONDS=120)))
    pod = offload.pod("overdue")
    wait_until(lambda: sum(offload.task_starts(job).values()) == 2, timeout=TIMEOUT, what="the tasks to start")

    # The Job controller fails the Job and stops its pod; no pod comes after it to re-attach.
    offload.patch_job("overdue", {"spec": {"activeDeadlineSeconds": 1}})
    failed = offload.wait_for_condition("overdue", "Failed")
    assert condition(failed, "Failed")["reason"] == "DeadlineExceeded"
    assert offload.wait_for_exit(pod, timeout=15) == 143
    log = offload.logs(pod)
    assert "stop requested: terminating the Batch job" in log and "DeadlineExceeded" in log, log
    assert offload.operations().get("Jobs_TerminateJob") == 1, offload.operations()
    wait_until(lambda: offload.batch_job(job) is None, timeout=TIMEOUT, what="the Batch job to be deleted")
    assert "DeadlineExceeded" in offload.event("overdue", "Cancelled")["message"]
    assert [p["metadata"]["name"] for p in offload.pods("overdue")] in ([], [pod])  # no replacement


def test_suspend_disables_the_batch_job_and_resume_enables_it(offload):
    job = offload.submit(offloaded_job("suspended", 2, offload.probe_env(PROBE_SLEEP_SECONDS=8)))
    first = offload.pod("suspended")
    wait_until(lambda: sum(offload.task_starts(job).values()) == 2, timeout=TIMEOUT, what="the tasks to start")

    offload.patch_job("suspended", {"spec": {"suspend": True}})
    assert offload.wait_for_exit(first, timeout=15) == 143
    assert "the Kubernetes Job was suspended: disabled the Batch job" in offload.logs(first)
    wait_until(lambda: offload.batch_job(job) == "disabled", timeout=TIMEOUT, what="the Batch job to be disabled")
    assert offload.operations().get("Jobs_DisableJob") == 1
    offload.wait_for_condition("suspended", "Suspended")
    assert offload.event("suspended", "Suspended")["reportingInstance"] == first
    time.sleep(2)  # while the Job is suspended nothing runs, nothing ends
    assert offload.batch_job(job) == "disabled" and offload.result("suspended") is None
    assert offload.task_starts(job) == {"0": 1, "1": 1}

    offload.patch_job("suspended", {"spec": {"suspend": False}})
    second = offload.pod("suspended", besides=(first,), timeout=REPLACEMENT_TIMEOUT)
    offload.wait_for_condition("suspended", "Complete")
    assert "the Kubernetes Job was resumed: enabled the Batch job" in offload.logs(second)
    operations = offload.operations()
    assert operations.get("Jobs_EnableJob") == 1 and operations["Jobs_CreateJob"] == 1, operations
    assert offload.event("suspended", "Resumed")["reportingInstance"] == second
    assert offload.result("suspended")["outcome"] == "succeeded"
    # Disabled with requeue: the tasks the suspension stopped ran again from the start.
    assert offload.task_starts(job) == {"0": 2, "1": 2}


# ---- the durable result ----

def test_a_kill_during_the_final_delete_leaves_the_replacement_nothing_to_do(offload):
    offload.batch.control("POST", "faults", {"delay": 60, "count": 1, "operations": ["Jobs_DeleteJob"]})
    job = offload.submit(offloaded_job("killed", 2, offload.probe_env()))
    first = offload.pod("killed")
    wait_until(lambda: offload.operations().get("Jobs_DeleteJob"), timeout=TIMEOUT,
               what="the offloader to delete the Batch job")
    recorded = offload.result("killed")
    assert (recorded["outcome"], recorded["exitCode"]) == ("succeeded", 0)  # before the delete

    offload.kubelet.kill(offload.namespace, first, "Error")
    assert offload.wait_for_exit(first) == 137
    before = offload.operations()
    second = offload.pod("killed", besides=(first,), timeout=REPLACEMENT_TIMEOUT)
    done = offload.wait_for_condition("killed", "Complete")
    assert offload.wait_for_exit(second) == 0
    assert "its result is recorded on the Job" in offload.logs(second)
    assert offload.operations() == before  # the replacement asked Batch nothing, created nothing
    assert offload.result("killed") == recorded
    assert offload.task_starts(job) == {"0": 1, "1": 1}
    assert done["status"]["failed"] == 1 and done["status"]["succeeded"] == 1


def test_an_unreachable_api_server_holds_up_nothing(offload, image_env, unanswering_port):
    image_env(KUBERNETES_SERVICE_PORT=unanswering_port)  # over what the kubelet set
    job = offload.submit(offloaded_job("cut-off", 2, offload.probe_env(PROBE_SLEEP_SECONDS=2)))
    submitted = time.monotonic()

    done = offload.wait_for_condition("cut-off", "Complete", timeout=90)
    took = time.monotonic() - submitted
    [pod] = offload.pods("cut-off")
    assert offload.wait_for_exit(pod["metadata"]["name"]) == 0
    log = offload.logs(pod["metadata"]["name"])
    warnings = [line for line in log.splitlines() if line.startswith("batch-offloader: warn: ")]
    assert len(warnings) == 1 and "kubernetes API not available" in warnings[0], log
    # The tasks' 2 s, the pod's start and a few seconds for each request that must be tried (is
    # there a result already? record it): nothing waits on the API server beyond that.
    assert took < 25, (took, log)
    assert not {RESULT, PROGRESS, BATCH_JOB} & set(done["metadata"].get("annotations", {}))
    assert offload.task_starts(job) == {"0": 1, "1": 1}


# ---- what the Job shows ----

def test_events_and_progress_of_a_ten_thousand_task_job_stay_within_their_limits(offload):
    watch = JobWatch(offload.plane, offload.namespace, "large")
    try:
        started = time.monotonic()
        job = offload.submit(offloaded_job("large", 10_000, image=TRUE_IMAGE))
        offload.wait_for_condition("large", "Complete", timeout=120)
        took = time.monotonic() - started
        time.sleep(1)  # the watch's last events
        writes = watch.annotation_writes(PROGRESS)
    finally:
        watch.stop()

    assert writes[-1][1] == "10000 succeeded, 0 failed, 0 running, 0 waiting of 10000"
    # Written as it changes, at most every 5 s (the last state at once): a write per poll (every
    # second) or per change would break this.
    assert 3 <= len(writes) <= took / 5 + 2, (took, writes)
    gaps = [later[0] - earlier[0] for earlier, later in zip(writes[:-1], writes[1:-1])]
    assert all(gap >= 4 for gap in gaps), (gaps, writes)  # 5 s as the offloader counts, less the watch's jitter

    events = offload.events("large")
    reasons = collections.Counter(event["reason"] for event in events)
    assert reasons == {"Submitted": 1, "Progress": 3, "Completed": 1}, [(e["reason"], e["message"]) for e in events]
    assert [event["message"].split("%")[0] for event in events if event["reason"] == "Progress"] == ["25", "50", "75"]
    assert all(event["count"] == 1 for event in events)
    assert offload.result("large")["succeeded"] == 10_000
    wait_until(lambda: offload.batch_job(job) is None, timeout=TIMEOUT, what="the Batch job to be deleted")


def test_without_api_access_the_offloader_says_so_once_and_the_job_completes(offload):
    offload.plane.kubectl("delete", "rolebinding", "batch-offload-offloader", "-n", offload.namespace)
    job = offload.submit(offloaded_job("unbound", 2, offload.probe_env()))

    done = offload.wait_for_condition("unbound", "Complete")
    [pod] = offload.pods("unbound")
    assert offload.wait_for_exit(pod["metadata"]["name"]) == 0
    log = offload.logs(pod["metadata"]["name"])
    warnings = [line for line in log.splitlines() if line.startswith("batch-offloader: warn: ")]
    assert len(warnings) == 1 and "kubernetes API not available" in warnings[0] and "403" in warnings[0], log
    assert "progress and events are not shown on the Job, and a SIGTERM leaves the Batch job running" in warnings[0]
    assert not {RESULT, PROGRESS, BATCH_JOB} & set(done["metadata"].get("annotations", {}))
    assert offload.events("unbound") == []
    assert offload.task_starts(job) == {"0": 1, "1": 1}
    wait_until(lambda: offload.batch_job(job) is None, timeout=TIMEOUT, what="the Batch job to be deleted")
