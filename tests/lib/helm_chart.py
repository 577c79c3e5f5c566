"""Render charts/batch-offload with the helm that `make deps` installs, for tests.

Every call runs helm with its own empty HOME and no kubeconfig, so nothing on the machine (a
real cluster context, a helm repository cache) changes what a test sees. With a FakeKubeApi,
`lookup` and the install dry run talk to it instead of a cluster.
"""
import json
import os
import subprocess
import tempfile
from pathlib import Path

import k8s_yaml
from fake_kube_api import FakeKubeApi, kubeconfig
from repo_paths import REPO_ROOT, deps_binary

CHART_DIR = REPO_ROOT / "charts" / "batch-offload"
RELEASE = "rel"
NAMESPACE = "batch-offload"


class HelmError(RuntimeError):
    """helm failed; the message is its stderr."""


def run_helm(args: list, values=None, api: FakeKubeApi = None) -> subprocess.CompletedProcess:
    """helm ARGS [-f values.json] [--kubeconfig <api>] in an isolated environment."""
    helm = deps_binary("helm")
    with tempfile.TemporaryDirectory() as home:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("HELM_", "KUBE"))}
        env.update(HOME=home, HELM_CACHE_HOME=f"{home}/cache", HELM_CONFIG_HOME=f"{home}/config",
                   HELM_DATA_HOME=f"{home}/data", KUBECONFIG=f"{home}/no-kubeconfig")
        command = [str(helm), *args]
        if values is not None:
            values_file = Path(home) / "values.json"
            values_file.write_text(json.dumps(values))
            command += ["-f", str(values_file)]
        if api is None:
            return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
        with api.serving() as url:
            config = Path(home) / "kubeconfig.json"
            config.write_text(kubeconfig(url))
            return subprocess.run(command + ["--kubeconfig", str(config)],
                                  capture_output=True, text=True, env=env, timeout=120)


def template_args(release: str, namespace: str, api, kube_version) -> list:
    args = ["template", release, str(CHART_DIR), "--namespace", namespace]
    if api is not None:
        args.append("--dry-run=server")  # lets `lookup` ask the (fake) API server
    if kube_version:
        args += ["--kube-version", kube_version]
    return args


def render(values=None, *, api: FakeKubeApi = None, kube_version: str = None,
           release: str = RELEASE, namespace: str = NAMESPACE) -> list:
    """The objects `helm template` renders, or HelmError."""
    result = run_helm(template_args(release, namespace, api, kube_version), values, api)
    if result.returncode != 0:
        raise HelmError(result.stderr.strip())
    return k8s_yaml.load_documents(result.stdout)


def render_error(values=None, **options) -> str:
    """helm's error for values that must not render; fails the test if they do."""
    try:
        render(values, **options)
    except HelmError as error:
        return str(error)
    raise AssertionError(f"helm template rendered values it should refuse: {values}")


def install_notes(values=None, *, release: str = RELEASE, namespace: str = NAMESPACE) -> str:
    """NOTES.txt as `helm install` prints it, from a client-side dry run against a fake API server."""
    args = ["install", release, str(CHART_DIR), "--namespace", namespace,
            "--dry-run=client", "--disable-openapi-validation"]
    result = run_helm(args, values, FakeKubeApi())
    if result.returncode != 0:
        raise HelmError(result.stderr.strip())
    return result.stdout.split("NOTES:\n", 1)[1]


def find(objects: list, kind: str, name: str = None) -> dict:
    """The one object of that kind (and name); fails clearly when absent or ambiguous."""
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def find_all(objects: list, kind: str) -> list:
    return [o for o in objects if o["kind"] == kind]
