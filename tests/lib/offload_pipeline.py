"""An offloaded Job's whole path on one machine, with no Kubernetes and no
Azure: the real webhook over TLS, Azurite for Blob storage and the Batch
emulator. A Job manifest goes through the webhook exactly as the API server
would send it; the patched Job's offloader container gets its environment as
the kubelet would build it; the offloader runs with that environment.
`make demo` and the storage pipeline tests both drive it."""
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from k8s_defaults import admission_review, apply_job_defaults
from kubectl_patch import apply_json_patch
from k8s_schema import validate
from k8s_yaml import load_documents
from kubelet_env import container_env
from repo_paths import REPO_ROOT
from batch_emulator.testing import (ACCOUNT, DEV_STORAGE_ACCOUNT, DEV_STORAGE_KEY, KEY, Azurite,
                     Emulator)
from webhook_process import WebhookProcess

WORDCOUNT_IMAGE = "registry.example.com/batch-offload/wordcount:1.0"
OFFLOADER_IMAGE = "registry.example.com/batch-offload/offloader:0.1.0"
CREDENTIALS_SECRET = "batch-offload-credentials"
DEFAULT_CONTAINER = "batch-offload"


def wordcount_image_map() -> dict:
    """The emulator's stand-in for the example's container image."""
    program = str(REPO_ROOT / "examples" / "wordcount" / "wordcount.py")
    return {"images": {WORDCOUNT_IMAGE: {"entrypoint": [sys.executable, program]}}}


class LocalPlatform:
    """Webhook, Azurite and Batch emulator, as a platform team would run them."""

    def __init__(self, work_dir: Path, build_dir: Path, namespace: str = "demo",
                 image_map: dict = None):
        self.work_dir = Path(work_dir)
        self.namespace = namespace
        self.build_dir = Path(build_dir)
        self.started = []
        try:
            certs = self.work_dir / "certs"
            subprocess.run([str(REPO_ROOT / "certs" / "make-certs.sh"), "--out", str(certs), "--local"],
                           check=True, capture_output=True, text=True)
            self.azurite = Azurite(self.work_dir / "azurite")
            self.started.append(self.azurite)
            self.emulator = Emulator(self.work_dir / "batch", slots=8,
                                     image_map=image_map or wordcount_image_map())
            self.started.append(self.emulator)
            self.webhook = WebhookProcess(self.build_dir / "offload-webhook", certs / "tls.crt",
                                          certs / "tls.key", certs / "ca.crt",
                                          "--default-storage-container", DEFAULT_CONTAINER,
                                          offloader_image=OFFLOADER_IMAGE)
            self.started.append(self.webhook)
            self.storage = self.azurite.storage()
            self.storage.create_container(DEFAULT_CONTAINER)
        except BaseException:
            self.close()
            raise
        # The platform's credentials Secret in the Job's namespace.
        self.secrets = {CREDENTIALS_SECRET: {
            "BATCHCONNECTIONSTRING": self.emulator.url, "BATCHNAME": ACCOUNT, "BATCHPASSWORD": KEY,
            "STORAGEACCOUNT": DEV_STORAGE_ACCOUNT, "STORAGEKEY": DEV_STORAGE_KEY,
            "BLOBENDPOINT": self.azurite.blob_endpoint}}

    def close(self):
        for process in reversed(self.started):
            process.stop()
        self.started = []

    def upload(self, prefix: str, files: dict):
        """Uploads {relative name: bytes} under <default container>/<prefix>/."""
        for name, data in files.items():
            self.storage.put_blob(DEFAULT_CONTAINER, f"{prefix}/{name}", data)

    def job_from_manifest(self, manifest: Path) -> dict:
        """The Job as `kubectl apply` sends it: the manifest as written (kubectl
        adds no defaults), checked against the official schema as the API
        server would with strict field validation."""
        (job,) = load_documents(Path(manifest).read_text())
        errors = validate(job, release="1.30")
        if errors:
            raise ValueError(f"{manifest} is not a valid Job: {errors}")
        job["metadata"]["namespace"] = self.namespace
        return job

    def admit(self, job: dict) -> tuple:
        """(AdmissionReview response, the Job as stored): the webhook's answer
        applied with the API server's patch semantics."""
        job = apply_job_defaults(job)
        review = admission_review(job, self.namespace, str(uuid.uuid4()),
                                  name=job["metadata"].get("name"))
        response = self.webhook.review(review)["response"]
        if not response.get("allowed") or "patch" not in response:
            return response, job
        import base64
        patch = json.loads(base64.b64decode(response["patch"]))
        return response, apply_json_patch(job, patch)

    def offloader_env(self, job: dict, job_uid: str = None) -> dict:
        """The offloader container's environment in the pod the Job controller makes."""
        template = job["spec"]["template"]
        name = job["metadata"].get("name") or job["metadata"]["generateName"] + "x7k2q"
        pod = {"metadata": {"name": f"{name}-abcde", "namespace": self.namespace,
                            "labels": {**template["metadata"].get("labels", {}),
                                       "batch.kubernetes.io/controller-uid":
                                           job_uid or str(uuid.uuid4()),
                                       "batch.kubernetes.io/job-name": name}},
               "spec": template["spec"]}
        container = template["spec"]["containers"][0]
        env = container_env(container, pod, self.secrets, {})
        env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
        return env

    def run_offloader(self, env: dict, on_line=None, timeout: float = 600) -> tuple:
        """(exit code, output lines) of the offloader run with env."""
        process = subprocess.Popen([str(self.build_dir / "batch-offloader")], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines = []
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if on_line:
                on_line(lines[-1])
        return process.wait(timeout=timeout), lines
