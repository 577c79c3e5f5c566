# Test support for the emulator and for tests that drive a client against it: starting and stopping
# the emulator and Azurite, a minimal Batch REST client with its own Shared Key signer (written from
# docs/azure-facts.md section 5, independently of the emulator's auth.py), Storage Shared Key, service SAS and
# user delegation SAS helpers, Entra ID token requests and workload identity assertions (JWTs made
# here, independently of the emulator's json_web_token.py), TLS material, polling with deadlines, and
# pytest fixtures. Import the fixtures into a test module:
#     from batch_emulator.testing import emulator, batch, azurite      # noqa: F401 (pytest fixtures)
import base64
import collections
import hashlib
import hmac
import http.client
import json
import os
import queue
import re
import signal
import ssl
import subprocess
import threading
import time
import urllib.request
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import formatdate
from pathlib import Path
from urllib.parse import quote, unquote, urlencode, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from repo_paths import REPO_ROOT
from tls_material import CertificateAuthority

EMULATOR = REPO_ROOT / "tests" / "batch_emulator" / "emulator.py"
NODE_DIR = REPO_ROOT / "tests" / "node"
AZURITE_BLOB = NODE_DIR / "node_modules" / ".bin" / "azurite-blob"
PYTHON = "/usr/bin/python3"
API_VERSION = "2025-06-01.21.0"
ACCOUNT = "emulatoraccount"
KEY = base64.b64encode(b"batch-emulator-test-key-32-bytes").decode()
# Azurite's development account (docs/azure-facts.md section 6).
DEV_STORAGE_ACCOUNT = "devstoreaccount1"
DEV_STORAGE_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
                   "K1SZFPTOtr/KBHBeksoGMGw==")
STORAGE_VERSION = "2022-11-02"
# The emulated Entra ID tenant and its applications (emulator flags --entra-tenant, --entra-client).
TENANT = "b1596887-375b-4c90-a28e-7b971bbe80c7"
SECRET_CLIENT, CLIENT_SECRET = "4b1e0d2a-0c43-4bb4-8e4e-2ba3e1b2f001", "emulator~secret.value_1"
WORKLOAD_CLIENT = "6d8f3c1e-5a7b-4f2d-9c3e-1a2b3c4d5e02"       # federated credential and IMDS identity
BATCH_SCOPE, BATCH_RESOURCE = "https://batch.core.windows.net//.default", "https://batch.core.windows.net/"
STORAGE_SCOPE, STORAGE_RESOURCE = "https://storage.azure.com/.default", "https://storage.azure.com"
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
# Images the test emulator knows: like docker images, an ENTRYPOINT and a CMD.
TEST_IMAGE_MAP = {"images": {
    "python:3": {"entrypoint": [], "cmd": [PYTHON]},
    "busybox:1": {"entrypoint": [], "cmd": ["/bin/sh"]},
    "echo-image:1": {"entrypoint": ["/bin/echo", "from-entrypoint"], "cmd": ["default-cmd"],
                     "env": {"IMAGE_VARIABLE": "from-image"}},
    "true-image": {"entrypoint": ["/bin/true"]}}}


# ----- TLS -----

@dataclass
class TlsFiles:
    """A serving certificate for 127.0.0.1 and localhost (cert, key) and the CA that signed it (ca), PEM."""
    cert: Path
    key: Path
    ca: Path

    @classmethod
    def create(cls, directory):
        directory = Path(directory)
        authority = CertificateAuthority()
        cert, key = authority.issue()
        (directory / "cert.pem").write_bytes(cert)
        (directory / "key.pem").write_bytes(key)
        return cls(directory / "cert.pem", directory / "key.pem", authority.write(directory / "ca.pem"))

    def client_context(self):
        return ssl.create_default_context(cafile=str(self.ca))

    def emulator_args(self):
        return ["--tls-cert", str(self.cert), "--tls-key", str(self.key)]


# ----- processes -----

def start_process(argv, ready_pattern, timeout=30, **popen_options):
    """Starts argv and waits for an output line matching ready_pattern: (process, match). The output
    keeps being read, so the process never blocks on a full pipe; its last lines stay in
    process.output_tail for diagnosing failures."""
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True, **popen_options)
    process.output_tail = collections.deque(maxlen=200)
    lines = queue.Queue()

    def read_output():
        for line in process.stdout:
            process.output_tail.append(line)
            lines.put(line)
        lines.put(None)

    process.output_reader = threading.Thread(target=read_output, daemon=True)
    process.output_reader.start()
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            line = None
        if line is None:
            break
        match = re.search(ready_pattern, line)
        if match:
            return process, match
    stop_process(process)
    raise RuntimeError(f"{argv[0]} did not become ready; output:\n{''.join(process.output_tail)}")


def stop_process(process, grace=10):
    """SIGTERM, then SIGKILL for the whole process group if it does not exit within grace seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    process.output_reader.join(grace)
    process.stdout.close()
    return process.returncode


class Emulator:
    """A running emulator process: .url, .port, .work_dir; stop() ends it. env: variables added to its
    environment."""

    def __init__(self, work_dir, slots=4, image_map=None, account=ACCOUNT, key=KEY, extra_args=(), env=None):
        self.work_dir = Path(work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.account, self.key = account, key
        image_map_path = self.work_dir / "image-map.json"
        image_map_path.write_text(json.dumps(TEST_IMAGE_MAP if image_map is None else image_map))
        argv = [PYTHON, str(EMULATOR), "--account", account, "--key", key, "--port", "0",
                "--work-dir", str(self.work_dir / "nodes"), "--slots", str(slots),
                "--image-map", str(image_map_path), *extra_args]
        self.process, match = start_process(argv, r"listening on (\S+) account=", env={**os.environ, **(env or {})})
        self.url = match.group(1)
        self.port = urlsplit(self.url).port

    def client(self, **options):
        return BatchClient(self.url, self.account, self.key, **options)

    def stop(self):
        return stop_process(self.process)


class Azurite:
    """A running azurite-blob: .blob_endpoint (http[s]://127.0.0.1:PORT/devstoreaccount1); stop() ends it.
    With tls (a TlsFiles) it serves HTTPS; with oauth also Bearer tokens ("--oauth basic", which needs
    HTTPS): it checks a token's aud, iss, nbf and exp but not its signature (README.md)."""

    def __init__(self, location, tls=None, oauth=False):
        argv = [str(AZURITE_BLOB), "--blobHost", "127.0.0.1", "--blobPort", "0", "--location", str(location),
                "--skipApiVersionCheck", "--disableTelemetry"]
        if tls:
            argv += ["--cert", str(tls.cert), "--key", str(tls.key)]
        if oauth:
            argv += ["--oauth", "basic"]
        self.process, match = start_process(argv, r"listens on (https?://\S+)", timeout=60)
        self.blob_endpoint = f"{match.group(1).rstrip('/')}/{DEV_STORAGE_ACCOUNT}"
        self.tls_context = tls.client_context() if tls else None

    def storage(self):
        return StorageClient(self.blob_endpoint, DEV_STORAGE_ACCOUNT, DEV_STORAGE_KEY, self.tls_context)

    def stop(self):
        return stop_process(self.process)


# ----- Batch REST with Shared Key -----

def batch_string_to_sign(account, method, url, headers):
    """Shared Key StringToSign for Batch (docs/azure-facts.md section 5); headers: dict with the exact names sent."""
    lower = {name.lower(): value for name, value in headers.items()}
    standard = ["content-encoding", "content-language", "content-length", "content-md5", "content-type", "date",
                "if-modified-since", "if-match", "if-none-match", "if-unmodified-since", "range"]
    text = method + "\n" + "".join(lower.get(name, "") + "\n" for name in standard)
    text += "".join(f"{name}:{lower[name]}\n" for name in sorted(lower) if name.startswith("ocp-") and lower[name])
    parts = urlsplit(url)
    pairs = {}
    for piece in filter(None, parts.query.split("&")):
        name, _, value = piece.partition("=")
        pairs.setdefault(unquote(name), []).append(unquote(value.replace("+", " ")))
    return text + f"/{account}{parts.path}" + "".join(f"\n{name}:{','.join(pairs[name])}" for name in sorted(pairs))


def batch_signature(key, account, method, url, headers):
    digest = hmac.new(base64.b64decode(key), batch_string_to_sign(account, method, url, headers).encode(),
                      hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # lower-cased names
        self.body = body

    @property
    def json(self):
        return json.loads(self.body)

    @property
    def error_code(self):
        return self.json.get("code") if self.body else None

    def __repr__(self):
        return f"<Reply {self.status} {self.body[:300]!r}>"


class BatchClient:
    """A small Batch REST client over one keep-alive connection, signing with Shared Key, or sending
    bearer_token (an Entra ID access token) when it is set."""

    def __init__(self, url, account, key, api_version=API_VERSION, tls_context=None, bearer_token=None):
        self.url, self.account, self.key, self.api_version = url.rstrip("/"), account, key, api_version
        self.tls_context = tls_context
        self.bearer_token = bearer_token
        self._connection = None

    def _connect(self):
        if self._connection is None:
            parts = urlsplit(self.url)
            if parts.scheme == "https":
                self._connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=60,
                                                               context=self.tls_context)
            else:
                self._connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        return self._connection

    def request(self, method, path, body=None, query=None, headers=None, sign=True, api_version=True,
                ocp_date=None, key=None):
        query = dict(query or {})
        if api_version:
            query.setdefault("api-version", self.api_version)
        target = path + ("?" + urlencode(query, quote_via=quote, safe="$,'") if query else "")
        return self.request_target(method, target, body, headers, sign, ocp_date, key)

    def follow(self, link):
        """GET an absolute URL the service returned (odata.nextLink), exactly as given."""
        assert link.startswith(self.url), link
        return self.request_target("GET", link[len(self.url):])

    def request_target(self, method, target, body=None, headers=None, sign=True, ocp_date=None, key=None):
        data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        sent = {"ocp-date": ocp_date or formatdate(time.time(), usegmt=True)}
        if body is not None:
            sent["Content-Type"] = "application/json; odata=minimalmetadata; charset=utf-8"
        if method in ("POST", "PUT", "PATCH") or data:
            sent["Content-Length"] = str(len(data))
        sent.update(headers or {})
        if sign and self.bearer_token:
            sent["Authorization"] = f"Bearer {self.bearer_token}"
        elif sign:
            signature = batch_signature(key or self.key, self.account, method, self.url + target, sent)
            sent["Authorization"] = f"SharedKey {self.account}:{signature}"
        return self.raw(method, target, data, sent)

    def raw(self, method, target, data=b"", headers=None):
        connection = self._connect()
        try:
            connection.request(method, target, body=data or None, headers=headers or {})
            response = connection.getresponse()
            reply = Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        except (http.client.HTTPException, ConnectionError):
            self.close()
            raise
        if reply.headers.get("connection", "").lower() == "close":
            self.close()
        return reply

    def close(self):
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # ----- conveniences (assert success) -----

    def ok(self, expected, method, path, body=None, **options):
        reply = self.request(method, path, body, **options)
        assert reply.status == expected, f"{method} {path}: {reply}"
        return reply

    def create_pool(self, pool_id, containers=False, **fields):
        configuration = {"imageReference": {"publisher": "microsoft-dsvm", "offer": "ubuntu-hpc", "sku": "2204",
                                            "version": "latest"}, "nodeAgentSKUId": "batch.node.ubuntu 22.04"}
        if containers:
            configuration["containerConfiguration"] = {"type": "dockerCompatible"}
        return self.ok(201, "POST", "/pools", {"id": pool_id, "vmSize": "standard_d2s_v3",
                                               "virtualMachineConfiguration": configuration,
                                               "targetDedicatedNodes": 1, **fields})

    def create_job(self, job_id, pool_id="pool", **fields):
        return self.ok(201, "POST", "/jobs", {"id": job_id, "poolInfo": {"poolId": pool_id}, **fields})

    def add_task(self, job_id, task):
        return self.ok(201, "POST", f"/jobs/{job_id}/tasks", task)

    def add_tasks(self, job_id, tasks):
        return self.ok(200, "POST", f"/jobs/{job_id}/addtaskcollection", {"value": tasks}).json["value"]

    def get_task(self, job_id, task_id):
        return self.ok(200, "GET", f"/jobs/{job_id}/tasks/{task_id}").json

    def get_job(self, job_id):
        return self.ok(200, "GET", f"/jobs/{job_id}").json

    def task_counts(self, job_id):
        return self.ok(200, "GET", f"/jobs/{job_id}/taskcounts").json["taskCounts"]

    def wait_task_completed(self, job_id, task_id, timeout=30):
        return wait_until(lambda: (lambda task: task if task["state"] == "completed" else None)(
            self.get_task(job_id, task_id)), timeout, f"task {job_id}/{task_id} to complete")

    def wait_job_state(self, job_id, state, timeout=30):
        return wait_until(lambda: (lambda job: job if job["state"] == state else None)(self.get_job(job_id)),
                          timeout, f"job {job_id} to become {state}")

    def task_file(self, job_id, task_id, path):
        return self.ok(200, "GET", f"/jobs/{job_id}/tasks/{task_id}/files/{quote(path, safe='')}").body

    # ----- the emulator's control endpoint (no auth, no api-version) -----

    def control(self, method, path, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        reply = self.raw(method, f"/_emulator/{path}", data, {"Content-Type": "application/json",
                                                              "Content-Length": str(len(data))})
        assert reply.status == 200, reply
        return reply.json


def wait_until(probe, timeout=30, what="the condition", interval=0.05):
    """Polls probe() until it returns something truthy (returned) or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# ----- Storage: Shared Key for setup, service SAS for what tasks get -----

class StorageClient:
    """Blob REST with Shared Key (docs/azure-facts.md section 5), path-style as Azurite serves it; over HTTPS with
    tls_context (an ssl.SSLContext trusting the server)."""

    def __init__(self, endpoint, account, key, tls_context=None):
        self.endpoint, self.account, self.key = endpoint.rstrip("/"), account, key
        self.tls_context = tls_context

    def _send(self, method, path, query=None, data=b"", headers=None, token=None):
        """Sends the request signed with Shared Key, or with Authorization: Bearer token when given."""
        query = query or {}
        url = self.endpoint + quote(path) + ("?" + urlencode(query) if query else "")
        headers = {"x-ms-date": formatdate(time.time(), usegmt=True), "x-ms-version": STORAGE_VERSION,
                   **(headers or {})}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        else:
            headers["Authorization"] = f"SharedKey {self.account}:{self._signature(method, url, query, data, headers)}"
        request = urllib.request.Request(url, data=data or None, method=method, headers=headers)
        return self.open(request).read()

    def open(self, request):
        """urlopen without proxies, trusting tls_context: a response to read, or HTTPError."""
        handlers = [urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=self.tls_context)]
        return urllib.request.build_opener(*handlers).open(request, timeout=30)

    def _signature(self, method, url, query, data, headers):
        lower = {name.lower(): value for name, value in headers.items()}
        length = str(len(data)) if data else ""
        standard = [lower.get(name, "") for name in ("content-encoding", "content-language")] + [length] + [
            lower.get(name, "") for name in ("content-md5", "content-type", "date", "if-modified-since", "if-match",
                                             "if-none-match", "if-unmodified-since", "range")]
        canonical_headers = "".join(f"{name}:{lower[name]}\n" for name in sorted(lower) if name.startswith("x-ms-"))
        resource = f"/{self.account}{urlsplit(url).path}" + "".join(
            f"\n{name.lower()}:{query[name]}" for name in sorted(query, key=str.lower))
        string_to_sign = method + "\n" + "\n".join(standard) + "\n" + canonical_headers + resource
        return base64.b64encode(hmac.new(base64.b64decode(self.key), string_to_sign.encode(),
                                         hashlib.sha256).digest()).decode()

    def user_delegation_key(self, token, expires_in=3600, start_offset=-300):
        """Get User Delegation Key with a storage access token: the key's fields by XML element name
        (SignedOid, SignedTid, SignedStart, SignedExpiry, SignedService, SignedVersion, Value)."""
        now = datetime.now(timezone.utc)
        start = _sas_time(now + timedelta(seconds=start_offset))
        expiry = _sas_time(now + timedelta(seconds=expires_in))
        body = (f'<?xml version="1.0" encoding="utf-8"?><KeyInfo><Start>{start}</Start>'
                f'<Expiry>{expiry}</Expiry></KeyInfo>').encode()
        answer = self._send("POST", "/", {"restype": "service", "comp": "userdelegationkey"}, body,
                              {"Content-Type": "application/xml"}, token=token)
        return {element.tag: element.text for element in ElementTree.fromstring(answer)}

    def create_container(self, container):
        self._send("PUT", f"/{container}", {"restype": "container"})

    def put_blob(self, container, name, data):
        self._send("PUT", f"/{container}/{name}", data=data, headers={"x-ms-blob-type": "BlockBlob",
                                                                       "Content-Type": "application/octet-stream"})

    def get_blob(self, container, name):
        return self._send("GET", f"/{container}/{name}")

    def blob_names(self, container, prefix=""):
        listing = self._send("GET", f"/{container}", {"restype": "container", "comp": "list", "prefix": prefix})
        return re.findall(r"<Name>([^<]*)</Name>", listing.decode())

    def container_sas_url(self, container, permissions, expires_in=3600, start_offset=-300):
        return f"{self.endpoint}/{container}?" + service_sas(self.account, self.key, container, None, permissions,
                                                            expires_in, start_offset)

    def blob_sas_url(self, container, name, permissions="r", expires_in=3600):
        return f"{self.endpoint}/{container}/{quote(name)}?" + service_sas(self.account, self.key, container, name,
                                                                          permissions, expires_in)


def _sas_time(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def service_sas(account, key, container, blob, permissions, expires_in=3600, start_offset=-300):
    """A service SAS query string (docs/azure-facts.md section 5: sv 2020-12-06 and later field order)."""
    now = datetime.now(timezone.utc)
    start = (now + timedelta(seconds=start_offset)).strftime("%Y-%m-%dT%H:%M:%SZ")
    expiry = (now + timedelta(seconds=expires_in)).strftime("%Y-%m-%dT%H:%M:%SZ")
    resource = f"/blob/{account}/{container}" + (f"/{blob}" if blob else "")
    kind = "b" if blob else "c"
    fields = [permissions, start, expiry, resource, "", "", "https,http", STORAGE_VERSION, kind, "", "", "", "", "", "", ""]
    signature = base64.b64encode(hmac.new(base64.b64decode(key), "\n".join(fields).encode(),
                                          hashlib.sha256).digest()).decode()
    return urlencode({"sv": STORAGE_VERSION, "sr": kind, "sp": permissions, "st": start, "se": expiry,
                      "spr": "https,http", "sig": signature})


def user_delegation_sas(account, delegation_key, container, blob, permissions, expires_in=3600, start_offset=-300):
    """A user delegation SAS query string (HTTPS only) signed with a key from user_delegation_key.
    StringToSign for sv 2020-12-06 up to 2025-07-05 (exclusive), in this order: sp, st, se,
    canonicalizedResource, skoid, sktid, skt, ske, sks, skv, saoid, suoid, scid, sip, spr, sv, sr,
    snapshot time, ses, rscc, rscd, rsce, rscl, rsct (@azure/storage-blob 12.32.0
    generateBlobSASQueryParametersUDK20201206; Azurite 3.35.0 generateBlobSASBlobSASSignatureWithUDK20201206)."""
    now = datetime.now(timezone.utc)
    start = _sas_time(now + timedelta(seconds=start_offset))
    expiry = _sas_time(now + timedelta(seconds=expires_in))
    resource = f"/blob/{account}/{container}" + (f"/{blob}" if blob else "")
    kind = "b" if blob else "c"
    key_fields = [delegation_key[name] for name in ("SignedOid", "SignedTid", "SignedStart", "SignedExpiry",
                                                    "SignedService", "SignedVersion")]
    fields = [permissions, start, expiry, resource, *key_fields, "", "", "", "", "https", STORAGE_VERSION, kind,
              "", "", "", "", "", "", ""]
    signature = base64.b64encode(hmac.new(base64.b64decode(delegation_key["Value"]), "\n".join(fields).encode(),
                                          hashlib.sha256).digest()).decode()
    return urlencode({"sv": STORAGE_VERSION, "sr": kind, "sp": permissions, "st": start, "se": expiry,
                      "spr": "https", **dict(zip(("skoid", "sktid", "skt", "ske", "sks", "skv"), key_fields)),
                      "sig": signature})


# ----- Entra ID -----

def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(claims, private_key, key_id="test-key"):
    """A compact JWS signed RS256 (RFC 7515, RFC 7518 section 3.3)."""
    header = {"alg": "RS256", "typ": "JWT", "kid": key_id}
    signing_input = ".".join(_b64url(json.dumps(part).encode()) for part in (header, claims))
    signature = private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"


def token_claims(token):
    """The claims of a JWT, without checking anything."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class FederatedIssuer:
    """Stands in for a cluster's service account token issuer (workload identity): makes assertions like
    the projected token in AZURE_FEDERATED_TOKEN_FILE, signed with its own key. emulator_args() makes the
    emulator trust it for every client (--entra-federated-*)."""

    def __init__(self, directory, issuer="https://oidc.emulator.invalid/cluster/",
                 subject="system:serviceaccount:batch-offload:offloader"):
        self.issuer, self.subject = issuer, subject
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key_file = Path(directory) / "federated-issuer.pem"
        self.public_key_file.write_bytes(self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

    def emulator_args(self):
        return ["--entra-federated-issuer", self.issuer, "--entra-federated-subject", self.subject,
                "--entra-federated-key", str(self.public_key_file)]

    def assertion(self, lifetime=3600, key=None, **claims):
        """A service account token for api://AzureADTokenExchange; claims override the defaults."""
        now = int(time.time())
        body = {"aud": [TOKEN_EXCHANGE_AUDIENCE], "iss": self.issuer, "sub": self.subject, "iat": now, "nbf": now,
                "exp": now + lifetime, "kubernetes.io": {"namespace": "batch-offload",
                                                         "serviceaccount": {"name": "offloader"}}}
        body.update(claims)
        return make_jwt(body, key or self.key)


def entra_emulator_args(tls, issuer, token_lifetime=None):
    """Emulator flags for HTTPS and Entra ID: tenant TENANT, SECRET_CLIENT with CLIENT_SECRET, WORKLOAD_CLIENT
    (no secret: the federated credential of issuer, and the managed identity IMDS answers for)."""
    arguments = [*tls.emulator_args(), "--entra-tenant", TENANT, "--entra-client", WORKLOAD_CLIENT,
                 "--entra-client", f"{SECRET_CLIENT}:{CLIENT_SECRET}", *issuer.emulator_args()]
    return arguments + (["--entra-token-lifetime", str(token_lifetime)] if token_lifetime else [])


def request_token(client, client_id, scope, secret=None, assertion=None, tenant=TENANT, extra=None):
    """POST /{tenant}/oauth2/v2.0/token (client credentials grant) on the emulator client talks to: a Reply."""
    form = {"grant_type": "client_credentials", "client_id": client_id, "scope": scope}
    if secret is not None:
        form["client_secret"] = secret
    if assertion is not None:
        form.update(client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    client_assertion=assertion)
    data = urlencode({**form, **(extra or {})}).encode()
    return client.raw("POST", f"/{quote(tenant)}/oauth2/v2.0/token", data, {
        "Content-Type": "application/x-www-form-urlencoded", "Content-Length": str(len(data))})


def imds_token(client, resource, client_id=None, metadata=True):
    """GET /metadata/identity/oauth2/token as a managed identity asks IMDS: a Reply."""
    query = {"api-version": "2018-02-01", "resource": resource, **({"client_id": client_id} if client_id else {})}
    return client.raw("GET", "/metadata/identity/oauth2/token?" + urlencode(query),
                      headers={"Metadata": "true"} if metadata else {})


# ----- pytest fixtures -----

@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    """One emulator per test module (4 slots, TEST_IMAGE_MAP); stopped at the end of the module."""
    running = Emulator(tmp_path_factory.mktemp("emulator"))
    yield running
    assert running.stop() == 0, "the emulator did not exit cleanly"


@pytest.fixture
def batch(emulator):
    """A client of a freshly reset emulator."""
    client = emulator.client()
    client.control("POST", "reset")
    yield client
    client.close()


@pytest.fixture(scope="module")
def azurite(tmp_path_factory):
    running = Azurite(tmp_path_factory.mktemp("azurite"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def server_tls(tmp_path_factory):
    """A serving certificate for 127.0.0.1 with its CA (TlsFiles), for the emulator and Azurite."""
    return TlsFiles.create(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def federated_issuer(tmp_path_factory):
    return FederatedIssuer(tmp_path_factory.mktemp("issuer"))


@pytest.fixture(scope="module")
def entra_emulator(tmp_path_factory, server_tls, federated_issuer):
    """An emulator over HTTPS serving Entra ID tokens (entra_emulator_args) and accepting Shared Key and Bearer;
    its nodes trust server_tls's CA (SSL_CERT_FILE), so tasks reach an HTTPS Azurite with that certificate."""
    running = Emulator(tmp_path_factory.mktemp("entra-emulator"),
                       extra_args=entra_emulator_args(server_tls, federated_issuer),
                       env={"SSL_CERT_FILE": str(server_tls.ca)})
    yield running
    assert running.stop() == 0, "the emulator did not exit cleanly"


@pytest.fixture(scope="module")
def azurite_oauth(tmp_path_factory, server_tls):
    """Azurite over HTTPS accepting Bearer tokens (--oauth basic) as well as Shared Key and SAS."""
    running = Azurite(tmp_path_factory.mktemp("azurite-oauth"), tls=server_tls, oauth=True)
    yield running
    running.stop()
