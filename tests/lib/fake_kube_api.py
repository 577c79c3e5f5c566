"""A tiny read-only stand-in for kube-apiserver: enough for Helm to render and dry-run a chart.

Pointed at this server, `helm template --dry-run=server` lets the chart's `lookup` see what a
test put here (a previous install's TLS Secret, a credentials Secret to copy), and
`helm install --dry-run=client --disable-openapi-validation` runs the whole install path,
NOTES.txt included. No cluster needed. It answers GETs only:

    /version, /api, /apis, /api/v1, /apis/G/V         discovery of the kinds in API_RESOURCES
    .../namespaces/NS/RESOURCE[/NAME], .../RESOURCE[/NAME]   stored objects (?labelSelector=a=b)

Anything else is a 404 Status, as the real server answers for an unknown object.
"""
import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# (group, version, kind) -> (resource, namespaced): the kinds the chart renders and reads.
API_RESOURCES = {
    ("", "v1", "Secret"): ("secrets", True),
    ("", "v1", "ConfigMap"): ("configmaps", True),
    ("", "v1", "Service"): ("services", True),
    ("", "v1", "ServiceAccount"): ("serviceaccounts", True),
    ("apps", "v1", "Deployment"): ("deployments", True),
    ("batch", "v1", "CronJob"): ("cronjobs", True),
    ("rbac.authorization.k8s.io", "v1", "Role"): ("roles", True),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding"): ("rolebindings", True),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole"): ("clusterroles", False),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"): ("clusterrolebindings", False),
    ("policy", "v1", "PodDisruptionBudget"): ("poddisruptionbudgets", True),
    ("networking.k8s.io", "v1", "NetworkPolicy"): ("networkpolicies", True),
    ("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration"):
        ("mutatingwebhookconfigurations", False),
    ("cert-manager.io", "v1", "Certificate"): ("certificates", True),
    ("cert-manager.io", "v1", "Issuer"): ("issuers", True),
    ("monitoring.coreos.com", "v1", "ServiceMonitor"): ("servicemonitors", True),
}
KUBERNETES_VERSION = {"major": "1", "minor": "30", "gitVersion": "v1.30.0", "platform": "linux/amd64"}


def status_not_found(path: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": f"{path} not found", "reason": "NotFound", "code": 404}


def group_versions() -> dict:
    """{"apps": {"v1"}, ...} for the named groups (not the core group)."""
    groups = {}
    for group, version, _ in API_RESOURCES:
        if group:
            groups.setdefault(group, set()).add(version)
    return groups


def api_resource_list(group: str, version: str) -> dict:
    return {
        "kind": "APIResourceList", "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": [
            {"name": resource, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind,
             "verbs": ["get", "list"]}
            for (g, v, kind), (resource, namespaced) in API_RESOURCES.items() if (g, v) == (group, version)
        ],
    }


def api_group_list() -> dict:
    groups = []
    for group, versions in sorted(group_versions().items()):
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in sorted(versions)]
        groups.append({"name": group, "versions": entries, "preferredVersion": entries[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def matches_selector(obj: dict, selector: str) -> bool:
    """Equality-based label selectors only ("a=b,c=d"), which is what Helm sends."""
    labels = obj.get("metadata", {}).get("labels") or {}
    for requirement in filter(None, selector.split(",")):
        key, _, value = requirement.partition("=")
        if labels.get(key) != value.lstrip("="):
            return False
    return True


class FakeKubeApi:
    """Stores objects by (group, version, resource, namespace, name); serves them on 127.0.0.1."""

    def __init__(self, objects=()):
        self.objects = {}
        self.requests = []  # every path asked for, so tests can check what was looked up
        for obj in objects:
            self.add(obj)

    def add(self, obj: dict) -> None:
        group, _, version = obj["apiVersion"].rpartition("/")
        resource, namespaced = API_RESOURCES[(group, version, obj["kind"])]
        namespace = obj["metadata"]["namespace"] if namespaced else ""
        self.objects[(group, version, resource, namespace, obj["metadata"]["name"])] = obj

    def answer(self, url: str):
        """(HTTP status, JSON body) for a GET of url."""
        self.requests.append(url)
        split = urlsplit(url)
        parts = [p for p in split.path.split("/") if p]
        if parts == ["version"]:
            return 200, KUBERNETES_VERSION
        if parts == ["api"]:
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if parts == ["apis"]:
            return 200, api_group_list()
        if parts[:1] == ["api"] and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return 404, status_not_found(split.path)
        if not rest:
            resources = api_resource_list(group, version)
            return (200, resources) if resources["resources"] else (404, status_not_found(split.path))
        return self.answer_objects(group, version, rest, parse_qs(split.query), split.path)

    def answer_objects(self, group, version, rest, query, path):
        namespace = ""
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        if len(rest) == 2:
            obj = self.objects.get((group, version, rest[0], namespace, rest[1]))
            return (200, obj) if obj else (404, status_not_found(path))
        if len(rest) == 1:
            selector = query.get("labelSelector", [""])[0]
            items = [obj for (g, v, r, ns, _), obj in sorted(self.objects.items())
                     if (g, v, r) == (group, version, rest[0]) and (ns == namespace or not namespace)
                     and matches_selector(obj, selector)]
            return 200, {"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items}
        return 404, status_not_found(path)

    @contextmanager
    def serving(self):
        """Serves until the block ends; yields the server's URL (plain HTTP)."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                status, body = fake.answer(self.path)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # keep test output clean
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


def kubeconfig(server_url: str) -> str:
    """A kubeconfig (JSON is valid YAML) whose current context is server_url, without credentials."""
    return json.dumps({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "fake", "cluster": {"server": server_url}}],
        "users": [{"name": "fake", "user": {}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
        "current-context": "fake",
    })
