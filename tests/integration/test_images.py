"""The container images `make images` builds (tools/build-images.sh, webhook/Containerfile,
offloader/Containerfile): FROM scratch, small, non-root, and working. The offloader runs a job
against the Batch emulator from inside its image; the webhook serves the chart's default command
line with a certificate mounted where the chart mounts it.

The images are built once per session by `make images` (which rebuilds only what changed, so an
earlier `make images` is reused) and run from the OCI archives it writes, the artifacts that ship,
with `buildah run --isolation chroot` on a private vfs storage: no daemon, and the container shares
the host's network, so 127.0.0.1 is the host's. Skipped without buildah (`make deps` installs it)
or without root (buildah needs it here)."""
import base64
import gzip
import http.client
import io
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import pytest

from batch_emulator.testing import ACCOUNT, KEY, Emulator
from helm_chart import find, render
from repo_paths import REPO_ROOT, deps_binary_or_skip
from tls_material import CertificateAuthority

UID = GID = 65532
SIZE_TARGET = 10_000_000  # bytes of compressed layers per image (the issue's "under 10 MB")
VERSION = re.search(r"^VERSION := (\S+)$", (REPO_ROOT / "Makefile").read_text(), re.MULTILINE).group(1)
BUILDAH = shutil.which("buildah")
CHART_TLS_MOUNT = "/etc/batch-offload/tls"

pytestmark = [
    pytest.mark.skipif(BUILDAH is None, reason="buildah is not installed (`make deps` installs it)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="buildah builds and runs the images as root here"),
]


class Image:
    """One OCI archive: its manifest, config and the entries of its (only) layer."""

    def __init__(self, name: str, archive: Path):
        self.name, self.archive = name, archive
        with tarfile.open(archive) as tar:
            def blob(digest):
                return tar.extractfile("blobs/" + digest.replace(":", "/")).read()
            index = json.loads(tar.extractfile("index.json").read())
            [descriptor] = index["manifests"]
            self.manifest = json.loads(blob(descriptor["digest"]))
            self.config = json.loads(blob(self.manifest["config"]["digest"]))
            self.layers = self.manifest["layers"]
            layer_data = [gzip.decompress(blob(layer["digest"])) for layer in self.layers]
        self.compressed_size = sum(layer["size"] for layer in self.layers)
        self.uncompressed_size = sum(len(data) for data in layer_data)
        self.entries = {}
        for data in layer_data:
            with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                for member in layer.getmembers():
                    self.entries[member.name.lstrip("./").rstrip("/")] = member
        self.entries.pop("", None)

    def files(self):
        return {name for name, member in self.entries.items() if not member.isdir()}


@pytest.fixture(scope="module")
def images():
    """Runs `make images` once and reads both archives."""
    env = {key: value for key, value in os.environ.items() if key not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    started = time.monotonic()
    result = subprocess.run(["make", "--no-print-directory", "-j2", "images"], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=900)
    took = time.monotonic() - started
    assert result.returncode == 0, f"make images failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    print(f"\nmake images: {took:.1f} s\n{result.stdout[-1000:]}")
    # The size table it prints, one row per archive.
    assert re.search(r"offload-webhook\.tar\s+[\d.]+ MB\s+[\d.]+ MB\s+[\d.]+ MB", result.stdout), result.stdout
    assert re.search(r"batch-offloader\.tar\s+[\d.]+ MB\s+[\d.]+ MB\s+[\d.]+ MB", result.stdout), result.stdout
    out = REPO_ROOT / "build" / "images"
    # The script's own storage is gone: nothing is left behind between builds.
    assert not (out / "storage").exists() and not (out / "run").exists()
    return {name: Image(name, out / f"{name}.tar") for name in ("offload-webhook", "batch-offloader")}


class Buildah:
    """buildah on a private vfs storage under the test's temporary directory."""

    def __init__(self, root: Path):
        self.root = root
        self.containers = {}

    def __call__(self, *args, **options):
        command = [BUILDAH, "--root", str(self.root / "storage"), "--runroot", str(self.root / "run"),
                   "--storage-driver", "vfs", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True, **options)

    def container(self, image: Image) -> str:
        """A working container of the archive (made once)."""
        if image.name not in self.containers:
            self.containers[image.name] = self("from", "--quiet", "--pull=never", "--name", f"test-{image.name}",
                                               f"oci-archive:{image.archive}").stdout.strip()
        return self.containers[image.name]

    def run_argv(self, image: Image, args, env=None, volumes=()):
        """`buildah run` of the image's ENTRYPOINT with args, as a kubelet runs a container with args:
        buildah run itself ignores ENTRYPOINT, so it is prepended here."""
        argv = [BUILDAH, "--root", str(self.root / "storage"), "--runroot", str(self.root / "run"),
                "--storage-driver", "vfs", "run", "--isolation", "chroot"]
        for name, value in (env or {}).items():
            argv += ["--env", f"{name}={value}"]
        for volume in volumes:
            argv += ["--volume", volume]
        return argv + [self.container(image), "--", *image.config["config"]["Entrypoint"], *args]

    def run(self, image: Image, args, env=None, volumes=(), timeout=120):
        return subprocess.run(self.run_argv(image, args, env, volumes), capture_output=True, text=True,
                              timeout=timeout)

    def remove_all(self):
        if (self.root / "storage").exists():
            subprocess.run([BUILDAH, "--root", str(self.root / "storage"), "--runroot", str(self.root / "run"),
                            "--storage-driver", "vfs", "rm", "--all"], capture_output=True, timeout=120)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def buildah(tmp_path_factory):
    tool = Buildah(tmp_path_factory.mktemp("buildah"))
    yield tool
    tool.remove_all()


# ----- what is in the images -----

@pytest.mark.parametrize("name, binary", [("offload-webhook", "offload-webhook"),
                                          ("batch-offloader", "batch-offloader")])
def test_archive_is_one_small_layer_run_as_non_root(images, name, binary):
    image = images[name]
    print(f"{name}: layer {image.compressed_size / 1e6:.2f} MB gzip, {image.uncompressed_size / 1e6:.2f} MB "
          f"uncompressed, archive {image.archive.stat().st_size / 1e6:.2f} MB")
    assert len(image.layers) == 1  # FROM scratch + one COPY
    assert image.layers[0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    assert image.compressed_size < SIZE_TARGET, f"{name}: {image.compressed_size} bytes compressed"
    config = image.config["config"]
    assert config["User"] == f"{UID}:{GID}"
    assert config["Entrypoint"] == [f"/usr/bin/{binary}"]
    assert not config.get("Cmd")
    labels = config["Labels"]
    assert labels["org.opencontainers.image.title"] == name
    assert labels["org.opencontainers.image.version"] == VERSION
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?|unknown", labels["org.opencontainers.image.revision"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", labels["org.opencontainers.image.created"])
    assert image.config["os"] == "linux" and image.config["architecture"] == "amd64"


@pytest.mark.parametrize("name", ["offload-webhook", "batch-offloader"])
def test_files_are_root_owned_and_read_only_to_the_user(images, name):
    """Owned by root, nothing writable by others and no set-id bits: the process (uid 65532) cannot
    change the image, which is what a read-only root filesystem also enforces in the pod."""
    for path, member in images[name].entries.items():
        assert (member.uid, member.gid) == (0, 0), path
        assert not member.mode & 0o6002, f"{path}: mode {member.mode:o}"


def test_webhook_image_is_its_static_binary_and_licences(images):
    files = images["offload-webhook"].files()
    assert "usr/bin/offload-webhook" in files
    docs = {f for f in files if re.fullmatch(r"usr/share/doc/[a-z0-9.+-]+/copyright", f)}
    assert files == {"usr/bin/offload-webhook"} | docs
    assert {"usr/share/doc/libc6-dev/copyright"} < docs  # glibc and the TLS library are linked in
    assert images["offload-webhook"].config["config"]["ExposedPorts"] == {"8443/tcp": {}}


def test_offloader_image_has_exactly_the_libraries_ldd_lists(images):
    staged = REPO_ROOT / "build" / "images" / "batch-offloader" / "rootfs" / "usr" / "bin" / "batch-offloader"
    ldd = subprocess.run(["ldd", str(staged)], capture_output=True, text=True, check=True).stdout
    assert "not found" not in ldd
    needed = {line.split("=>")[1].split()[0] for line in ldd.splitlines() if "=> /" in line}
    needed |= {line.split()[0] for line in ldd.splitlines() if line.strip().startswith("/")}
    files = images["batch-offloader"].files()
    libraries = {"/" + f for f in files if re.match(r"(usr/)?lib(64|/x86_64-linux-gnu)/", f)}
    assert libraries == needed
    docs = {f for f in files if re.fullmatch(r"usr/share/doc/[a-z0-9.+-]+/copyright", f)}
    assert files == {"usr/bin/batch-offloader", "etc/ssl/certs/ca-certificates.crt", "etc/nsswitch.conf"} \
        | {lib.lstrip("/") for lib in libraries} | docs
    assert {"usr/share/doc/libc6/copyright", "usr/share/doc/libcurl4/copyright",
            "usr/share/doc/ca-certificates/copyright"} <= docs
    # The same binary as the one staged (stripped), and the shipped CA bundle is the machine's.
    assert images["batch-offloader"].entries["usr/bin/batch-offloader"].size == staged.stat().st_size
    assert images["batch-offloader"].entries["etc/ssl/certs/ca-certificates.crt"].size == \
        Path("/etc/ssl/certs/ca-certificates.crt").stat().st_size


# ----- running them -----

def test_version_of_both_images(images, buildah):
    webhook = buildah.run(images["offload-webhook"], ["--version"])
    assert webhook.returncode == 0, webhook.stderr
    assert re.match(rf"offload-webhook {re.escape(VERSION)} \((wolfSSL|OpenSSL) \d", webhook.stdout), webhook.stdout
    offloader = buildah.run(images["batch-offloader"], ["--version"])
    assert offloader.returncode == 0, offloader.stderr
    assert re.match(rf"batch-offloader {re.escape(VERSION)} \((wolfSSL|OpenSSL) .*libcurl/", offloader.stdout), \
        offloader.stdout


WORKER_IMAGE_MAP = {"images": {"registry.example.com/team/worker:1": {
    "entrypoint": ["/bin/sh", "-c", 'echo "worker $JOB_COMPLETION_INDEX"']}}}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    running = Emulator(tmp_path_factory.mktemp("emulator"), slots=3, image_map=WORKER_IMAGE_MAP)
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="module")
def test_ca(tmp_path_factory):
    """A CA and a serving certificate for 127.0.0.1 signed by it (RSA 2048, as the chart's helm mode
    makes): tls.crt, tls.key, ca.crt. The directory is root's alone (0700)."""
    ca = CertificateAuthority()
    directory = tmp_path_factory.mktemp("tls")
    cert, key = ca.issue(key_type="rsa")
    (directory / "tls.crt").write_bytes(cert)
    (directory / "tls.key").write_bytes(key)
    ca.write(directory / "ca.crt")
    return directory


def readable_copy(source: Path, names, mode_dir: int, mode_file: int, group: int = 0) -> Path:
    """A copy of some files in a new sibling directory, owned root:group with the given modes: what a
    volume looks like to the container's user."""
    directory = source.parent / f"{source.name}-{'-'.join(n.split('.')[0] for n in names)}-{mode_file:o}"
    directory.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(source / name, directory / name)
        os.chown(directory / name, 0, group)
        os.chmod(directory / name, mode_file)
    os.chown(directory, 0, group)
    os.chmod(directory, mode_dir)
    return directory


@pytest.fixture(scope="module")
def tls_emulator(tmp_path_factory, test_ca):
    running = Emulator(tmp_path_factory.mktemp("tls-emulator"), slots=3, image_map=WORKER_IMAGE_MAP,
                       extra_args=("--tls-cert", str(test_ca / "tls.crt"), "--tls-key", str(test_ca / "tls.key")))
    yield running
    assert running.stop() == 0


def offloader_env(emulator, job_id, **extra):
    return {"BATCHCONNECTIONSTRING": emulator.url, "BATCHNAME": ACCOUNT, "BATCHPASSWORD": KEY, "JOBID": job_id,
            "WORKERIMAGENAME": "registry.example.com/team/worker:1", "COMPLETIONS": "3",
            "BATCH_OFFLOAD_POLL_MAX_SECONDS": "1", **extra}


def test_offloader_runs_a_job_from_its_image(images, buildah, emulator):
    job_id = f"image-test-{os.getpid()}"
    result = buildah.run(images["batch-offloader"], [], offloader_env(emulator, job_id, KEEPBATCHJOB="true"))
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "all tasks succeeded tasks=3" in result.stdout
    client = emulator.client()
    try:
        for index in range(3):
            assert client.task_file(job_id, str(index), "stdout.txt") == f"worker {index}\n".encode()
    finally:
        client.close()


def test_offloader_image_checks_tls_with_its_ca_bundle(images, buildah, tls_emulator, test_ca):
    """Over HTTPS with only the image's CA bundle, the emulator's private CA is refused: the bundle was
    read (a missing or unreadable one is a different error); with the CA mounted it runs."""
    image = images["batch-offloader"]
    refused = buildah.run(image, [], offloader_env(tls_emulator, "image-tls-refused",
                                                   BATCH_OFFLOAD_RETRY_BUDGET_SECONDS="1"))
    assert refused.returncode == 3, f"{refused.stdout}\n{refused.stderr}"
    assert "SSL peer certificate or SSH remote key was not OK" in refused.stdout, refused.stdout
    assert "Problem with the SSL CA cert" not in refused.stdout

    ca_only = readable_copy(test_ca, ["ca.crt"], 0o755, 0o444)
    accepted = buildah.run(image, [], offloader_env(tls_emulator, "image-tls-accepted",
                                                    BATCH_OFFLOAD_CA_FILE="/etc/test-ca/ca.crt",
                                                    BATCH_OFFLOAD_RETRY_BUDGET_SECONDS="5"),
                           volumes=[f"{ca_only}:/etc/test-ca:ro"])
    assert accepted.returncode == 0, f"{accepted.stdout}\n{accepted.stderr}"
    assert "all tasks succeeded tasks=3" in accepted.stdout


def descendants(pid: int) -> list:
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def process_named(root_pid: int, name: str) -> int:
    for pid in descendants(root_pid):
        try:
            if (Path("/proc") / str(pid) / "comm").read_text().strip() == name:
                return pid
        except OSError:
            continue
    raise AssertionError(f"no {name} process under {root_pid}")


def ids_of(pid: int) -> dict:
    status = (Path("/proc") / str(pid) / "status").read_text()
    return {key: [int(v) for v in value.split()] for key, value in re.findall(r"^(Uid|Gid):\s+(.*)$", status, re.M)}


def https_get(port: int, ca_file: Path, path: str, body: bytes = None):
    context = ssl.create_default_context(cafile=str(ca_file))
    connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context)
    try:
        connection.request("POST" if body else "GET", path, body=body,
                           headers={"Content-Type": "application/json"} if body else {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_webhook_image_serves_the_chart_command_line(images, buildah, test_ca):
    """The chart's default args (its image's entrypoint, the certificate in the chart's mount path,
    readable only through the pod's fsGroup as the chart's 0440 Secret volume is) serve /healthz,
    /readyz and /mutate over TLS as uid/gid 65532, and SIGTERM stops it cleanly."""
    deps_binary_or_skip("helm")
    [container] = find(render({"webhook": {"shutdownDelaySeconds": 1}}),
                       "Deployment")["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    assert args[0] == "--listen=0.0.0.0:8443"
    args = ["--listen=127.0.0.1:0"] + args[1:]  # a free port on the host's network
    offloader_image = next(a.split("=", 1)[1] for a in args if a.startswith("--offloader-image="))

    # As the kubelet mounts the chart's Secret volume: defaultMode 0440, group the pod's fsGroup.
    secret = readable_copy(test_ca, ["tls.crt", "tls.key", "ca.crt"], 0o750, 0o440, group=GID)

    process = subprocess.Popen(buildah.run_argv(images["offload-webhook"], args,
                                                volumes=[f"{secret}:{CHART_TLS_MOUNT}:ro"]),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log, serving = [], threading.Event()

    def read_log():
        for line in process.stderr:
            log.append(line)
            if '"msg":"serving"' in line.replace(" ", ""):
                serving.set()
    reader = threading.Thread(target=read_log, daemon=True)
    reader.start()
    try:
        assert serving.wait(30), f"the webhook did not start:\n{''.join(log)}"
        port = json.loads(next(line for line in log if '"serving"' in line))["port"]
        webhook_pid = process_named(process.pid, "offload-webhook")
        ids = ids_of(webhook_pid)
        assert ids["Uid"] == [UID] * 4 and ids["Gid"] == [GID] * 4, ids

        assert https_get(port, secret / "ca.crt", "/healthz")[0] == 200
        assert https_get(port, secret / "ca.crt", "/readyz")[0] == 200
        review = json.loads((REPO_ROOT / "tests" / "fixtures" / "admission" / "kubectl-job.json").read_text())
        status, body = https_get(port, secret / "ca.crt", "/mutate?timeout=10s", json.dumps(review).encode())
        assert status == 200, body
        response = json.loads(body)["response"]
        assert response["allowed"] is True
        patch = json.loads(base64.b64decode(response["patch"]))
        assert offloader_image in json.dumps(patch)  # the chart's offloader image

        os.kill(webhook_pid, signal.SIGTERM)
        assert process.wait(30) == 0, "".join(log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(5)
    stopping = [json.loads(line) for line in log if '"stopping"' in line]
    assert stopping and stopping[0]["shutdown_delay_s"] == 1, "".join(log)
