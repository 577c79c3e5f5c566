"""A Kubernetes control plane on loopback for the tests: Debian's etcd, kube-apiserver and
kube-controller-manager, the last two from the directory $BATCH_OFFLOAD_KUBE_ASSETS names (release
binaries no Debian or npm package provides; envtest finds the same ones through KUBEBUILDER_ASSETS).

What answers is the real thing: a static token in group system:masters, RBAC, the admission chain
with real webhook calls (matchConditions in CEL, TLS to the webhook, JSON Patch), defaulting and
validation, storage in etcd, and the Job, CronJob, garbage-collector and ServiceAccount
controllers, and the one that publishes the kube-root-ca.crt ConfigMap in every namespace (the
ca.crt of a pod's service-account volume). There is no kubelet and no scheduler: pods are created
and stay Pending, unless a test starts tests/lib/kubelet_standin.py.

    plane = ControlPlane(kube_assets(), work_dir, kubectl=deps_binary("kubectl"))
    plane.kubectl("apply", "-n", "default", "-f", "job.yaml")
    job = plane.get("job", "wordcount", "default")
    plane.stop()

The pytest fixture `control_plane` (tests/integration/conftest.py) starts one per session.
"""
import json
import os
import secrets
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from loopback import free_port
from tls_material import CertificateAuthority

ASSETS_VARIABLE = "BATCH_OFFLOAD_KUBE_ASSETS"
NOT_SET = (f"{ASSETS_VARIABLE} is not set (the directory holding kube-apiserver and "
           "kube-controller-manager; see README, Developing)")
ASSET_BINARIES = ("kube-apiserver", "kube-controller-manager")
ETCD = Path("/usr/bin/etcd")  # Debian's etcd-server
CONTROLLERS = ("job", "cronjob", "garbagecollector", "serviceaccount", "root-ca-cert-publisher")
ADMIN_USER = "batch-offload-test-admin"
START_TIMEOUT = 60  # seconds; kube-apiserver is ready in about 4 s
# Nothing of the runner's environment (proxies, KUBECONFIG) reaches the control plane.
CLEAN_ENV = {"PATH": "/usr/bin:/bin"}


class ControlPlaneError(RuntimeError):
    """The control plane cannot run as configured, or one of its processes died; says why."""


def kube_assets():
    """The directory $BATCH_OFFLOAD_KUBE_ASSETS names, None when it is unset; ControlPlaneError
    when it is set but something the control plane needs is not there."""
    value = os.environ.get(ASSETS_VARIABLE, "")
    if not value:
        return None
    directory = Path(value)
    missing = [name for name in ASSET_BINARIES if not os.access(directory / name, os.X_OK)]
    if missing:
        raise ControlPlaneError(f"{ASSETS_VARIABLE}={value} holds no executable {' nor '.join(missing)}")
    if not os.access(ETCD, os.X_OK):
        raise ControlPlaneError(f"{ETCD} not found: `make deps` installs it (Debian's etcd-server)")
    return directory


class Component:
    """One process of the control plane, its output in <name>.log."""

    def __init__(self, name: str, args: list, log_dir: Path):
        self.name = name
        self.log = log_dir / f"{name}.log"
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen([str(a) for a in args], stdout=out,
                                            stderr=subprocess.STDOUT, env=CLEAN_ENV)

    def check_running(self):
        if self.process.poll() is not None:
            raise ControlPlaneError(f"{self.name} exited {self.process.returncode}; the end of "
                                    f"{self.log}:\n{self.log.read_text(errors='replace')[-3000:]}")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class ControlPlane:
    def __init__(self, assets: Path, work_dir: Path, kubectl: Path):
        self.work_dir = work_dir
        self.kubectl_binary = kubectl
        self.components = []
        self.token = secrets.token_urlsafe(32)  # made up for this run
        self.ca = CertificateAuthority("batch-offload test control plane CA")
        self.ca_file = self.ca.write(work_dir / "ca.pem")
        self.tls = ssl.create_default_context(cafile=str(self.ca_file))
        try:
            self._start_etcd()
            self._start_apiserver(assets / "kube-apiserver")
            self.kubeconfig = self._write_kubeconfig()
            self._start_controller_manager(assets / "kube-controller-manager")
        except BaseException:
            self.stop()
            raise

    # ---- starting ----
    def _start(self, name: str, args: list) -> Component:
        component = Component(name, args, self.work_dir)
        self.components.append(component)
        return component

    def _wait(self, ready, what: str):
        """Polls ready() until it is true; a process that dies or the deadline fails the start."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            for component in self.components:
                component.check_running()
            try:
                if ready():
                    return
            except OSError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"{what} not ready after {START_TIMEOUT} s; logs in {self.work_dir}")
            time.sleep(0.2)

    def _start_etcd(self):
        client, peer = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
        self._start("etcd", [ETCD, "--name=test", f"--data-dir={self.work_dir / 'etcd'}",
                             f"--listen-client-urls={client}", f"--advertise-client-urls={client}",
                             f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
                             f"--initial-cluster=test={peer}"])
        self.etcd_url = client

        def healthy():
            with urllib.request.urlopen(f"{client}/health", timeout=2) as answer:
                return json.load(answer).get("health") == "true"
        self._wait(healthy, "etcd")

    def _start_apiserver(self, binary: Path):
        serving_cert, serving_key = self.ca.issue()  # localhost and 127.0.0.1
        (self.work_dir / "serving.pem").write_bytes(serving_cert)
        (self.work_dir / "serving-key.pem").write_bytes(serving_key)
        account_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        (self.work_dir / "service-account-key.pem").write_bytes(account_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        (self.work_dir / "service-account.pem").write_bytes(account_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        # token,user,uid,"groups"
        (self.work_dir / "tokens.csv").write_text(f'{self.token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n')
        port = free_port()
        self._start("kube-apiserver", [
            binary, f"--etcd-servers={self.etcd_url}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={port}",
            f"--tls-cert-file={self.work_dir / 'serving.pem'}",
            f"--tls-private-key-file={self.work_dir / 'serving-key.pem'}",
            f"--token-auth-file={self.work_dir / 'tokens.csv'}", "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={self.work_dir / 'service-account.pem'}",
            f"--service-account-signing-key-file={self.work_dir / 'service-account-key.pem'}",
            "--service-cluster-ip-range=10.96.0.0/16",
            # Loopback cannot be advertised as the kubernetes Service's endpoint.
            "--endpoint-reconciler-type=none"])
        self.url = f"https://127.0.0.1:{port}"
        self._wait(lambda: self.request("/readyz") == b"ok", "kube-apiserver")

    def _write_kubeconfig(self) -> Path:
        path = self.work_dir / "kubeconfig.json"
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "test",
            "clusters": [{"name": "test", "cluster": {"server": self.url,
                                                      "certificate-authority": str(self.ca_file)}}],
            "users": [{"name": ADMIN_USER, "user": {"token": self.token}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": ADMIN_USER}}]}))
        return path

    def _start_controller_manager(self, binary: Path):
        self._start("kube-controller-manager", [
            binary, f"--kubeconfig={self.kubeconfig}", "--leader-elect=false",
            f"--controllers={','.join(CONTROLLERS)}", "--secure-port=0",
            f"--root-ca-file={self.ca_file}"])
        # Pods need their namespace's ServiceAccount: ready once its controller has made one.
        self._wait(lambda: self.kubectl("get", "serviceaccount", "default", "-n", "default",
                                        check=False).returncode == 0,
                   "kube-controller-manager")

    def stop(self):
        for component in reversed(self.components):
            component.stop()
        self.components = []

    # ---- talking to it ----
    def request(self, path: str, method: str = "GET", body=None, content_type: str = "application/json",
                token: str = None) -> bytes:
        """METHOD path with the admin token (or `token`), over TLS verified with the control plane's
        CA; body, when given, is sent as JSON. An error status raises urllib.error.HTTPError."""
        headers = {"Authorization": f"Bearer {token or self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=10, context=self.tls) as answer:
            return answer.read()

    def api(self, method: str, path: str, body=None, **options) -> dict:
        """request(), its answer parsed."""
        return json.loads(self.request(path, method, body, **options))

    def kubectl(self, *args: str, input: str = None, check: bool = True) -> subprocess.CompletedProcess:
        """kubectl ARGS as the admin; a non-zero exit fails the test with kubectl's message."""
        result = subprocess.run([str(self.kubectl_binary), f"--kubeconfig={self.kubeconfig}", *args],
                                input=input, capture_output=True, text=True, timeout=60,
                                env={**CLEAN_ENV, "HOME": str(self.work_dir)})
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {result.returncode}: {result.stderr}")
        return result

    def apply(self, obj: dict, namespace: str = None, check: bool = True) -> subprocess.CompletedProcess:
        """kubectl apply of one object (warnings are in the result's stderr)."""
        return self.kubectl("apply", *(["-n", namespace] if namespace else []), "-f", "-",
                            input=json.dumps(obj), check=check)

    def get(self, kind: str, name: str = None, namespace: str = None, selector: str = None):
        """The object (or, without a name, the list's items) as the API server stores it."""
        args = ["get", kind, *([name] if name else []), "-o", "json"]
        if namespace:
            args += ["-n", namespace]
        if selector:
            args += ["-l", selector]
        found = json.loads(self.kubectl(*args).stdout)
        return found if name else found["items"]
