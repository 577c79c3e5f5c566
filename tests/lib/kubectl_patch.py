"""Apply a JSON patch exactly as the API server would, by asking kubectl to do it offline.

`kubectl patch --local --type=json` uses the same library as kube-apiserver (evanphx/json-patch),
so its quirks are the real ones: `add` under a missing parent fails ("doc is missing path"),
`/` inside a key must be written `~1`. No cluster is contacted.
"""
import json
import subprocess
import tempfile

from repo_paths import deps_binary


class PatchError(RuntimeError):
    """kubectl refused the patch; the message is kubectl's stderr."""


def apply_json_patch(obj: dict, patch: list) -> dict:
    """The object after the patch, or PatchError with kubectl's reason."""
    kubectl = deps_binary("kubectl")
    with tempfile.NamedTemporaryFile("w", suffix=".json") as source:
        json.dump(obj, source)
        source.flush()
        result = subprocess.run(
            [str(kubectl), "patch", "--local", "-f", source.name, "--type=json",
             "-p", json.dumps(patch), "-o", "json"],
            capture_output=True, text=True, timeout=60,
        )
    if result.returncode != 0:
        raise PatchError(result.stderr.strip() or f"kubectl patch exited with {result.returncode}")
    return json.loads(result.stdout)
