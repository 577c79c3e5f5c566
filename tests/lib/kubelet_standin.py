"""A stand-in for the kubelet (and for the scheduler's binding) in the tests against the real control
plane (control_plane.py): it registers a Ready Node, watches the Pods of the namespaces it serves,
binds each pending one to its Node, runs each container as a local process and reports the pod's
status as a kubelet does, so that the real Job controller, garbage collector and Eviction API see
what they would see on a cluster. Each rule below is the v1.31 kubelet's (pkg/kubelet):

- environment: kubelet_env.container_env (envFrom, env, $(VAR), fieldRef, secretKeyRef and
  configMapKeyRef read from the API server), the `kubernetes` Service's variables pointing at the
  test API server, HOSTNAME; a reference that does not resolve leaves the container waiting in
  CreateContainerConfigError with the kubelet's message, not started, and retried.
- image: `images` maps an image reference to the argv of a local program (the image's ENTRYPOINT);
  `command` replaces it, `args` follow; an image not in the map waits in ErrImagePull, then
  ImagePullBackOff. The map may change while the stand-in runs.
- service account: the projected volume the pod mounts at /var/run/secrets/kubernetes.io/
  serviceaccount (token from the TokenRequest API bound to the pod, ca.crt from the
  kube-root-ca.crt ConfigMap, namespace) is written as the kubelet's AtomicWriter writes it, and
  written again when a token is at 80 % of its life; without mount namespaces the process finds
  the directory in $BATCH_OFFLOAD_SERVICEACCOUNT_DIR.
- status (patched as the kubelet patches pods/status): Pending, Running, then Succeeded or Failed
  with containerStatuses[].state.terminated {exitCode, reason, startedAt, finishedAt}, which the
  Job controller's podFailurePolicy reads; a missing ConfigMap or Secret of the volume leaves the
  pod in ContainerCreating.
- stopping: a deletionTimestamp (kubectl delete, the Job controller, the garbage collector, an
  eviction) → SIGTERM to the process, SIGKILL when the grace period is over, the final status, then
  the kubelet's delete with gracePeriodSeconds 0. kill() stops a process with SIGKILL and deletes
  nothing (a crash, the OOM killer).

Not done: restarts (restartPolicy Never only), init and sidecar containers, probes, other volumes,
resources, Events, other Services' variables, the kubelet's own API (`kubectl logs` and `exec`;
logs() reads a pod's output here).

    kubelet = KubeletStandIn(plane, {"sh:1": ["/bin/sh", "-c"]}, work_dir)
    kubelet.serve("jobs-1")
    ... kubelet.logs("jobs-1", pod_name) ...
    kubelet.stop()

The module fixture `kubelet` (tests/integration/conftest.py) starts one per test module.
"""
import base64
import datetime
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import traceback
import urllib.error
import urllib.parse
import uuid
from pathlib import Path

from kubelet_env import MissingReference, command_line, container_env, field_value, service_link_env

SERVICE_ACCOUNT_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
SERVICE_ACCOUNT_DIR_VARIABLE = "BATCH_OFFLOAD_SERVICEACCOUNT_DIR"
# The PATH an image's config usually sets; the container's env comes after it.
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The processes share the host's network: the pod's address and the node's are loopback.
NODE_IP = POD_IP = "127.0.0.1"
NODE_CAPACITY = {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "20Gi"}
TERMINAL_PHASES = ("Succeeded", "Failed")
# A container that cannot start yet is tried again this often (the kubelet backs off up to 5 min).
RETRY_SECONDS = 1.0
TOKEN_REFRESH_FRACTION = 0.8  # of a token's life, when the kubelet asks for the next one
DEFAULT_TOKEN_SECONDS = 3600  # serviceAccountToken.expirationSeconds when the volume gives none
STRATEGIC_MERGE = "application/strategic-merge-patch+json"


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class _NotReady(Exception):
    """A container cannot start yet: its waiting reason and message."""

    def __init__(self, reason: str, message: str = None):
        super().__init__(message or reason)
        self.reason, self.message = reason, message


def write_atomically(directory: Path, files: dict, mode: int):
    """Replaces a volume's files ({relative path: bytes}) at once, as the kubelet's AtomicWriter does:
    the new set goes to a fresh hidden directory, the ..data symlink is switched to it by a rename,
    and each name is a symlink through ..data, so a reader sees the old set or the new, never a mix."""
    directory.mkdir(parents=True, exist_ok=True)
    data_link = directory / "..data"
    previous = os.readlink(data_link) if data_link.is_symlink() else None
    fresh = directory / datetime.datetime.now().strftime("..%Y_%m_%d_%H_%M_%S.%f")
    fresh.mkdir()
    for name, content in files.items():
        path = fresh / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        path.chmod(mode)
    staged = directory / "..data_tmp"
    staged.symlink_to(fresh.name)
    os.replace(staged, data_link)
    for top in {name.split("/")[0] for name in files}:
        if not (directory / top).is_symlink():
            (directory / top).symlink_to(Path("..data") / top)
    if previous:
        shutil.rmtree(directory / previous)


class _NamespaceObjects:
    """The Secrets or ConfigMaps of one namespace, each read from the API server once, when first
    asked for (the kubelet reads them afresh for every container start): get(name) gives what env
    sees ({key: text}; a ConfigMap's binaryData is not in it), files(name) what a volume holds
    ({key: bytes}); None when there is none."""

    def __init__(self, plane, namespace: str, resource: str):
        self.plane, self.namespace, self.resource = plane, namespace, resource
        self._read = {}

    def get(self, name: str):
        found = self._object(name)
        if found is None:
            return None
        if self.resource == "secrets":
            return {key: value.decode(errors="surrogateescape") for key, value in self.files(name).items()}
        return dict(found.get("data", {}))

    def files(self, name: str):
        found = self._object(name)
        if found is None:
            return None
        data = found.get("data", {})
        if self.resource == "secrets":
            return {key: base64.b64decode(value) for key, value in data.items()}
        return {**{key: value.encode() for key, value in data.items()},
                **{key: base64.b64decode(value) for key, value in found.get("binaryData", {}).items()}}

    def _object(self, name: str):
        if name not in self._read:
            try:
                self._read[name] = self.plane.api("GET", f"/api/v1/namespaces/{self.namespace}/{self.resource}/{name}")
            except urllib.error.HTTPError as error:
                if error.code != 404:
                    raise
                self._read[name] = None
        return self._read[name]


class _Container:
    """One container of a pod and its process: the state containerStatuses shows."""

    def __init__(self, spec: dict, pod_dir: Path, on_exit):
        self.spec = spec
        self.name = spec["name"]
        self.log_path = pod_dir / f"{self.name}.log"
        self.work_dir = pod_dir / "containers" / self.name
        self.on_exit = on_exit
        self.waiting = _NotReady("ContainerCreating")
        self.process = None
        self.id = self.image_id = self.started_at = self.finished_at = None
        self.exit_code = None
        self.killed_reason = None
        self._waiter = None

    @property
    def started(self) -> bool:
        return self.process is not None

    @property
    def running(self) -> bool:
        return self.started and self.exit_code is None

    @property
    def terminated(self) -> bool:
        return self.exit_code is not None

    def start(self, argv: list, env: dict):
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            # Its own process group: what the program leaves behind goes with it, as with a cgroup.
            self.process = subprocess.Popen(argv, env=env, cwd=self.work_dir, stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.id = f"stand-in://{uuid.uuid4().hex}"
        self.image_id = "sha256:" + hashlib.sha256("\0".join(argv[:1]).encode()).hexdigest()
        self.started_at = now()
        self._waiter = threading.Thread(target=self._wait_for_exit, name=f"container {self.name}", daemon=True)
        self._waiter.start()

    def _wait_for_exit(self):
        code = self.process.wait()
        self._kill_group()
        self.finished_at = now()
        self.exit_code = code if code >= 0 else 128 - code  # a signal's number, as runtimes report it
        self.on_exit()

    def terminate(self):
        """SIGTERM to the main process only, as the runtime's StopContainer sends it."""
        if self.running:
            self.process.send_signal(signal.SIGTERM)

    def kill(self, reason: str = None):
        if self.running:
            self.killed_reason = reason
            self._kill_group()

    def _kill_group(self):
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def join(self):
        if self._waiter:
            self._waiter.join()

    def status(self) -> dict:
        """The containerStatuses entry; the states it is not in are null, which the strategic merge
        patch needs to drop them."""
        status = {"name": self.name, "image": self.spec["image"], "imageID": self.image_id or "",
                  "restartCount": 0, "lastState": {}, "ready": self.running, "started": self.running,
                  "state": {"waiting": None, "running": None, "terminated": None}}
        if self.started:
            status["containerID"] = self.id
        if self.terminated:
            reason = self.killed_reason or ("Completed" if self.exit_code == 0 else "Error")
            status["state"]["terminated"] = {"exitCode": self.exit_code, "reason": reason, "containerID": self.id,
                                             "startedAt": self.started_at, "finishedAt": self.finished_at}
        elif self.running:
            status["state"]["running"] = {"startedAt": self.started_at}
        else:
            status["state"]["waiting"] = {"reason": self.waiting.reason, "message": self.waiting.message}
        return status


class _PodWorker:
    """One pod from its binding to its final status, on a thread of its own (the kubelet's pod worker)."""

    def __init__(self, kubelet, pod: dict):
        meta = pod["metadata"]
        self.namespace, self.name, self.uid = meta["namespace"], meta["name"], meta["uid"]
        self.kubelet = kubelet
        self.plane = kubelet.plane
        self.pod = pod
        self.path = f"/api/v1/namespaces/{self.namespace}/pods/{self.name}"
        self.dir = kubelet.work_dir / "pods" / f"{self.namespace}_{self.name}_{self.uid}"
        self.containers = [_Container(spec, self.dir, self._wake_up) for spec in pod["spec"]["containers"]]
        self._wake = threading.Event()
        self._gone = False  # the pod is no longer in the API
        self._abandoned = False  # the stand-in stops: processes killed, nothing reported
        self._sandbox_ready = False  # its volume written (the kubelet's sandbox is up)
        self._volume_dir = None
        self._start_time = None
        self._transitions = {}  # condition type -> (status, lastTransitionTime)
        self._reported = None
        self._tokens = {}  # index of a serviceAccountToken source -> (token, monotonic time to refresh)
        self.thread = threading.Thread(target=self._run, name=f"pod {self.namespace}/{self.name}", daemon=True)

    # ---- what the watch and the test tell it ----
    def update(self, pod: dict):
        # resourceVersions are etcd revisions: an older one is a stale copy (the binding's answer
        # races the watch).
        if int(pod["metadata"]["resourceVersion"]) >= int(self.pod["metadata"]["resourceVersion"]):
            self.pod = pod
            self._wake_up()

    def vanish(self, pod: dict):
        self.update(pod)
        self._gone = True
        self._wake_up()

    def abandon(self):
        self._abandoned = True
        self._wake_up()

    def kill(self, reason: str):
        for container in self.containers:
            container.kill(reason)

    def _wake_up(self):
        self._wake.set()

    def _sleep(self, seconds):
        self._wake.wait(seconds)
        self._wake.clear()

    # ---- its life ----
    def _run(self):
        try:
            self._live()
        except Exception:
            self.kubelet.record_failure(f"pod {self.namespace}/{self.name}")
            self.kill("Error")

    def _stopping(self) -> bool:
        return self._abandoned or self._gone or bool(self.pod["metadata"].get("deletionTimestamp"))

    def _live(self):
        if self._stopping() or not self._supported():
            return
        if not self.pod["spec"].get("nodeName") and not self._bind():
            return
        self._start_time = now()
        while not self._stopping():
            self._start_containers()
            self._refresh_tokens()
            # Decided before the report, which then says it: a process may end in between.
            ended = all(container.terminated for container in self.containers)
            self._report()
            if ended:
                return  # ended by itself: the kubelet leaves the pod object alone
            self._sleep(self._next_wake())
        self._stop_containers()
        if self._abandoned:
            return
        self._report(final=True)
        if not self._gone:
            self._final_delete()

    def _supported(self) -> bool:
        spec = self.pod["spec"]
        if spec.get("restartPolicy") == "Never" and not spec.get("initContainers"):
            return True
        self.kubelet.failures.append(f"pod {self.namespace}/{self.name}: the kubelet stand-in runs only "
                                     "restartPolicy Never pods without init containers")
        return False

    def _bind(self) -> bool:
        """Binds the pod to the stand-in's node as the scheduler does; False when it is gone or taken."""
        binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": self.name},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": self.kubelet.node_name}}
        try:
            self.plane.api("POST", self.path + "/binding", binding)
            self.update(self.plane.api("GET", self.path))
        except urllib.error.HTTPError as error:
            if error.code in (404, 409):  # deleted meanwhile, or bound by someone else
                return False
            raise
        return True

    def _next_wake(self):
        """Seconds until the loop has something to do by itself; None: only when woken."""
        due = [RETRY_SECONDS] if any(not container.started for container in self.containers) else []
        due += [refresh_at - time.monotonic() for _, refresh_at in self._tokens.values()]
        return max(0, min(due)) if due else None

    # ---- starting ----
    def _namespace_objects(self):
        """Fresh readers of the pod's Secrets and ConfigMaps (the kubelet reads them for each start)."""
        return (_NamespaceObjects(self.plane, self.namespace, "secrets"),
                _NamespaceObjects(self.plane, self.namespace, "configmaps"))

    def _start_containers(self):
        """Starts what can start, in the kubelet's order: the pod's volume, then per container its image
        and its environment; what cannot start yet keeps its waiting reason until the next try."""
        waiting = [container for container in self.containers if not container.started]
        if not waiting:
            return
        secrets, config_maps = self._namespace_objects()
        if not self._sandbox_ready:
            try:
                self._volume_dir = self._write_service_account_volume(secrets, config_maps)
            except _NotReady as not_ready:
                for container in waiting:
                    container.waiting = not_ready
                return
            self._sandbox_ready = True
        for container in waiting:
            try:
                argv, env = self._command_and_env(container, secrets, config_maps)
            except _NotReady as not_ready:
                container.waiting = not_ready
                continue
            container.start(argv, env)

    def _command_and_env(self, container: _Container, secrets, config_maps):
        image = container.spec["image"]
        entrypoint = self.kubelet.images.get(image)
        if entrypoint is None:
            # Each try fails to pull, and the time until the next is a back-off.
            if container.waiting.reason == "ErrImagePull":
                raise _NotReady("ImagePullBackOff", f'Back-off pulling image "{image}"')
            raise _NotReady("ErrImagePull", f'Failed to pull image "{image}": the kubelet stand-in has no program for it')
        # The downward API's view of the pod as the kubelet has it: on this node, with its address.
        pod = {**self.pod, "status": {**self.pod.get("status", {}), "podIP": POD_IP, "hostIP": NODE_IP}}
        try:
            env = container_env(container.spec, pod, secrets, config_maps, self.kubelet.service_env)
        except MissingReference as missing:
            raise _NotReady("CreateContainerConfigError", str(missing)) from None
        # HOSTNAME and the image's PATH come first: the container's env may override them.
        env = {"HOSTNAME": self.pod["spec"].get("hostname") or self.name[:63].rstrip("-."),
               "PATH": IMAGE_PATH, **env}
        if self._volume_dir and any(mount["mountPath"] == SERVICE_ACCOUNT_MOUNT
                                    for mount in container.spec.get("volumeMounts", [])):
            env[SERVICE_ACCOUNT_DIR_VARIABLE] = str(self._volume_dir)
        return command_line(container.spec, entrypoint, env), env

    # ---- the service-account volume ----
    def _service_account_volume(self):
        mounted = {mount["name"] for container in self.pod["spec"]["containers"]
                   for mount in container.get("volumeMounts", []) if mount["mountPath"] == SERVICE_ACCOUNT_MOUNT}
        found = [volume for volume in self.pod["spec"].get("volumes", []) if volume["name"] in mounted]
        if found and "projected" not in found[0]:
            raise ValueError(f"the kubelet stand-in writes only projected volumes; {found[0]['name']} is not one")
        return found[0] if found else None

    def _write_service_account_volume(self, secrets, config_maps):
        """Writes the projected volume mounted at the service-account path; its directory, None when the
        pod mounts none. A Secret or ConfigMap it needs that is not there: _NotReady (ContainerCreating)."""
        volume = self._service_account_volume()
        if volume is None:
            return None
        projected = volume["projected"]
        files = {}
        for index, source in enumerate(projected["sources"]):
            if "serviceAccountToken" in source:
                files[source["serviceAccountToken"]["path"]] = self._token(index, source["serviceAccountToken"])
            elif "downwardAPI" in source:
                for item in source["downwardAPI"]["items"]:
                    files[item["path"]] = field_value(self.pod, item["fieldRef"]["fieldPath"]).encode()
            else:
                kind, store = ("configMap", config_maps) if "configMap" in source else ("secret", secrets)
                files.update(self._projected_keys(kind, source[kind], store))
        directory = self.dir / "volumes" / volume["name"]
        write_atomically(directory, files, projected.get("defaultMode", 0o644))
        return directory

    def _projected_keys(self, kind: str, source: dict, store) -> dict:
        found = store.files(source["name"])
        if found is None:
            if source.get("optional"):
                return {}
            raise _NotReady("ContainerCreating", f'{kind.lower()} "{source["name"]}" not found')
        items = source.get("items") or [{"key": key, "path": key} for key in found]
        missing = [item["key"] for item in items if item["key"] not in found]
        if missing and not source.get("optional"):
            raise _NotReady("ContainerCreating", f"{kind.lower()} references non-existent config key: {missing[0]}")
        return {item["path"]: found[item["key"]] for item in items if item["key"] in found}

    def _token(self, index: int, source: dict) -> bytes:
        """The source's token, asked for again from the TokenRequest API once it is due."""
        token, refresh_at = self._tokens.get(index, (None, 0))
        if token is not None and time.monotonic() < refresh_at:
            return token
        seconds = source.get("expirationSeconds", DEFAULT_TOKEN_SECONDS)
        spec = {"expirationSeconds": seconds,
                "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": self.name, "uid": self.uid}}
        if source.get("audience"):
            spec["audiences"] = [source["audience"]]
        account = self.pod["spec"].get("serviceAccountName", "default")
        answer = self.plane.api("POST", f"/api/v1/namespaces/{self.namespace}/serviceaccounts/{account}/token",
                                {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec})
        token = answer["status"]["token"].encode()
        life = self.kubelet.token_refresh_seconds or TOKEN_REFRESH_FRACTION * seconds
        self._tokens[index] = (token, time.monotonic() + life)
        return token

    def _refresh_tokens(self):
        if not any(time.monotonic() >= refresh_at for _, refresh_at in self._tokens.values()):
            return
        try:
            self._write_service_account_volume(*self._namespace_objects())
        except (_NotReady, urllib.error.HTTPError):
            # The pod is going (no token binds to it any more) or a source went: the old files stay.
            retry_at = time.monotonic() + RETRY_SECONDS
            self._tokens = {index: (token, retry_at) for index, (token, _) in self._tokens.items()}

    # ---- status ----
    def _phase(self, final: bool) -> str:
        if all(container.terminated for container in self.containers):
            return "Succeeded" if all(container.exit_code == 0 for container in self.containers) else "Failed"
        if final:
            return "Failed"  # stopped before every container ran: terminal all the same
        return "Pending" if any(not container.started for container in self.containers) else "Running"

    def _condition(self, kind: str, true: bool, reason: str = None, message: str = None) -> dict:
        status = "True" if true else "False"
        if self._transitions.get(kind, (None,))[0] != status:
            self._transitions[kind] = (status, now())
        return {"type": kind, "status": status, "lastProbeTime": None,
                "lastTransitionTime": self._transitions[kind][1], "reason": reason, "message": message}

    def _conditions(self, phase: str) -> list:
        """The conditions the kubelet owns (PodScheduled is the binding's, DisruptionTarget the
        evicter's: the merge patch leaves them be)."""
        terminal = phase in TERMINAL_PHASES
        unready = [container.name for container in self.containers if not container.running]
        if terminal:
            reason, message = "PodCompleted", None
        elif unready:
            reason, message = "ContainersNotReady", f"containers with unready status: [{' '.join(unready)}]"
        else:
            reason = message = None
        ready = not terminal and not unready
        return [self._condition("PodReadyToStartContainers", self._sandbox_ready and not terminal),
                self._condition("Initialized", True),
                self._condition("ContainersReady", ready, reason, message),
                self._condition("Ready", ready, reason, message)]

    def _report(self, final: bool = False):
        """Patches pods/status when what it would say changed."""
        if self._gone:
            return
        phase = self._phase(final)
        status = {"phase": phase, "hostIP": NODE_IP, "hostIPs": [{"ip": NODE_IP}], "startTime": self._start_time,
                  "conditions": self._conditions(phase),
                  "containerStatuses": [container.status() for container in self.containers]}
        if self._sandbox_ready:
            status.update(podIP=POD_IP, podIPs=[{"ip": POD_IP}])
        if status == self._reported:
            return
        try:
            self.plane.api("PATCH", self.path + "/status", {"status": status}, content_type=STRATEGIC_MERGE)
        except urllib.error.HTTPError as error:
            if error.code != 404:
                raise
            self._gone = True
        self._reported = status

    # ---- stopping ----
    def _grace_seconds(self) -> int:
        """calculateEffectiveGracePeriod of the v1.31 kubelet: the API's deletionGracePeriodSeconds; 0 (a
        force delete) or none (the pod vanished) falls back to the pod's terminationGracePeriodSeconds
        (kubernetes#115819; later kubelets give 1 s); never under 1 s."""
        meta, spec = self.pod["metadata"], self.pod["spec"]
        return max(1, meta.get("deletionGracePeriodSeconds") or spec.get("terminationGracePeriodSeconds") or 0)

    def _stop_containers(self):
        """SIGTERM, then SIGKILL for what still runs when the grace period is over (or at once when the
        stand-in stops); a later delete may shorten the grace period."""
        deadline = time.monotonic() + self._grace_seconds()
        for container in self.containers:
            container.terminate()
        while any(container.running for container in self.containers):
            if self._abandoned or time.monotonic() >= deadline:
                self.kill(None)
                break
            self._sleep(deadline - time.monotonic())
            deadline = min(deadline, time.monotonic() + self._grace_seconds())
        for container in self.containers:
            container.join()

    def _final_delete(self):
        """The kubelet's last word on a deleted pod: delete it now, this very pod (its uid)."""
        options = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                   "preconditions": {"uid": self.uid}}
        try:
            self.plane.request(self.path, "DELETE", options)
        except urllib.error.HTTPError as error:
            if error.code not in (404, 409):  # already gone, or another pod of that name
                raise


class KubeletStandIn:
    """The kubelet of one Node (node_name), running the pods of the namespaces it serves. images:
    {image reference: argv} (the tests may change it). token_refresh_seconds: tokens are asked for
    again this often instead of at 80 % of their life (a TokenRequest lives 10 minutes at the least,
    too long for a test to see a rotation). failures lists what went wrong inside the stand-in."""

    def __init__(self, plane, images: dict, work_dir: Path, node_name: str = "kubelet-stand-in",
                 token_refresh_seconds: float = None):
        self.plane = plane
        self.images = images
        self.work_dir = Path(work_dir)
        self.node_name = node_name
        self.token_refresh_seconds = token_refresh_seconds
        self.failures = []
        api = urllib.parse.urlsplit(plane.url)
        self.service_env = service_link_env("kubernetes", api.hostname, api.port, port_name="https")
        self._namespaces = set()
        self._pods = {}  # uid -> _PodWorker, kept once the pod is gone: logs() reads them
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._watch_connection = None
        self._register_node()
        self._watcher = threading.Thread(target=self._watch_pods, name="kubelet stand-in watch", daemon=True)
        self._watcher.start()

    # ---- for the tests ----
    def serve(self, namespace: str):
        """Runs the pods of `namespace` from now on, those already there too."""
        with self._lock:
            self._namespaces.add(namespace)
        for pod in self.plane.api("GET", f"/api/v1/namespaces/{namespace}/pods")["items"]:
            self._on_pod("ADDED", pod)

    def release(self, namespace: str):
        """Stops serving `namespace`: its processes are killed, nothing more is reported."""
        with self._lock:
            self._namespaces.discard(namespace)
            workers = [worker for worker in self._pods.values() if worker.namespace == namespace]
        self._abandon(workers)

    def logs(self, namespace: str, pod: str, container: str = None) -> str:
        """What the container printed (stdout and stderr, as `kubectl logs` shows them); "" while
        the stand-in has not started it."""
        workers = self._workers(namespace, pod)
        if not workers:
            return ""
        found = [c for c in workers[-1].containers if container in (None, c.name)]
        if not found:
            raise KeyError(f"pod {namespace}/{pod} has no container {container}")
        log = found[0].log_path
        return log.read_text(errors="replace") if log.exists() else ""

    def pod_names(self, namespace: str) -> list:
        """The pods of `namespace` the stand-in has run or runs, in the order it took them up."""
        with self._lock:
            return [w.name for w in self._pods.values() if w.namespace == namespace]

    def exit_code(self, namespace: str, pod: str, container: str = None):
        """The container's exit code (a signal's as 128 + its number), None while it runs or has not
        started: what the pod's last status says, also after the pod is gone from the API."""
        workers = self._workers(namespace, pod)
        if not workers:
            return None
        found = [c for c in workers[-1].containers if container in (None, c.name)]
        if not found:
            raise KeyError(f"pod {namespace}/{pod} has no container {container}")
        return found[0].exit_code

    def kill(self, namespace: str, pod: str, reason: str = "OOMKilled"):
        """SIGKILL to the pod's processes, the pod left in place (the OOM killer, a crash): they end
        with exit code 137 and `reason` ("OOMKilled" or "Error"), reported as usual."""
        workers = self._workers(namespace, pod)
        if not workers:
            raise KeyError(f"the kubelet stand-in runs no pod {namespace}/{pod}")
        workers[-1].kill(reason)

    def stop(self):
        """Kills every process and stops watching; the Node goes, the pods stay as they are."""
        self._stopping.set()
        while self._watcher.is_alive():
            # Ends the stream the watch blocks on (again, should it have opened another meanwhile).
            connection = self._watch_connection
            if connection is not None and connection.sock is not None:
                try:
                    connection.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._watcher.join(timeout=0.5)
        with self._lock:
            workers = list(self._pods.values())
        self._abandon(workers)
        try:
            self.plane.request(f"/api/v1/nodes/{self.node_name}", "DELETE")
        except urllib.error.HTTPError as error:
            if error.code != 404:
                raise

    def record_failure(self, what: str):
        self.failures.append(f"{what}: {traceback.format_exc()}")

    # ---- inside ----
    def _workers(self, namespace: str, pod: str) -> list:
        """The workers of the pods of that name, the latest last."""
        with self._lock:
            return [w for w in self._pods.values() if (w.namespace, w.name) == (namespace, pod)]

    @staticmethod
    def _abandon(workers: list):
        for worker in workers:
            worker.abandon()
        for worker in workers:
            worker.thread.join(timeout=15)

    def _register_node(self):
        stamp = now()

        def condition(kind, status, reason, message):
            return {"type": kind, "status": status, "reason": reason, "message": message,
                    "lastHeartbeatTime": stamp, "lastTransitionTime": stamp}
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.node_name, "labels": {
                    "kubernetes.io/hostname": self.node_name, "kubernetes.io/os": "linux"}},
                "status": {
                    "capacity": NODE_CAPACITY, "allocatable": NODE_CAPACITY,
                    "conditions": [
                        condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                        condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                        condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                        condition("Ready", "True", "KubeletReady", "kubelet is posting ready status")],
                    "addresses": [{"type": "InternalIP", "address": NODE_IP},
                                  {"type": "Hostname", "address": self.node_name}],
                    "nodeInfo": {"kubeletVersion": "kubelet-stand-in", "operatingSystem": "linux",
                                 "architecture": "amd64"}}}
        self.plane.api("POST", "/api/v1/nodes", node)

    def _watch_pods(self):
        """LIST, then WATCH from there (the kubelet's informer); again from a fresh LIST when the stream
        ends or the API server says the version is too old."""
        while not self._stopping.is_set():
            try:
                listing = self.plane.api("GET", "/api/v1/pods")
                self._on_listing(listing["items"])
                version = listing["metadata"]["resourceVersion"]
                for event in self._stream(f"/api/v1/pods?watch=true&resourceVersion={version}"):
                    if event["type"] == "ERROR":
                        break
                    self._on_pod(event["type"], event["object"])
            except (OSError, http.client.HTTPException):
                if not self._stopping.is_set():
                    time.sleep(0.2)  # the API server went away for a moment
            except Exception:
                self.record_failure("watching pods")
                time.sleep(0.2)

    def _stream(self, path: str):
        """The events of a watch, one JSON object a line."""
        api = urllib.parse.urlsplit(self.plane.url)
        connection = http.client.HTTPSConnection(api.hostname, api.port, context=self.plane.tls)
        self._watch_connection = connection
        try:
            connection.request("GET", path, headers={"Authorization": f"Bearer {self.plane.token}"})
            answer = connection.getresponse()
            if answer.status != 200:
                raise http.client.HTTPException(f"watch {path} answered {answer.status}")
            for line in answer:
                yield json.loads(line)
        finally:
            connection.close()

    def _on_listing(self, pods: list):
        """A fresh list: what it has is an update, what it lacks is gone."""
        listed = {pod["metadata"]["uid"] for pod in pods}
        for pod in pods:
            self._on_pod("ADDED", pod)
        with self._lock:
            vanished = [worker for uid, worker in self._pods.items() if uid not in listed]
        for worker in vanished:
            worker.vanish(worker.pod)

    def _on_pod(self, event: str, pod: dict):
        meta = pod["metadata"]
        if pod["spec"].get("nodeName", "") not in ("", self.node_name):
            return
        with self._lock:
            if meta["namespace"] not in self._namespaces:
                return
            worker = self._pods.get(meta["uid"])
            if worker is None:
                if event == "DELETED" or pod.get("status", {}).get("phase") in TERMINAL_PHASES:
                    return  # ended before the stand-in saw it
                worker = self._pods[meta["uid"]] = _PodWorker(self, pod)
                worker.thread.start()
            elif event == "DELETED":
                worker.vanish(pod)
            else:
                worker.update(pod)
