"""tests/lib/kubectl_patch.py: JSON patches applied with the API server's own patch library."""

import pytest

from kubectl_patch import PatchError, apply_json_patch
from repo_paths import deps_binary_or_skip

JOB = {
    "apiVersion": "batch/v1", "kind": "Job",
    "metadata": {"name": "demo", "namespace": "team-a"},
    "spec": {"template": {"spec": {"restartPolicy": "Never",
                                   "containers": [{"name": "demo", "image": "busybox"}]}}},
}


@pytest.fixture(autouse=True)
def kubectl():
    return deps_binary_or_skip("kubectl")


def test_add_under_a_missing_parent_fails_like_the_api_server():
    patch = [{"op": "add", "path": "/metadata/annotations/batch-offload.io~1managed", "value": "true"}]
    with pytest.raises(PatchError, match="doc is missing path"):
        apply_json_patch(JOB, patch)


def test_adding_the_whole_map_then_escaped_keys_works():
    patch = [
        {"op": "add", "path": "/metadata/annotations", "value": {"a/b": "1"}},
        {"op": "add", "path": "/metadata/annotations/batch-offload.io~1managed", "value": "true"},
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "offloader:1"},
    ]
    patched = apply_json_patch(JOB, patch)
    assert patched["metadata"]["annotations"] == {"a/b": "1", "batch-offload.io/managed": "true"}
    assert patched["spec"]["template"]["spec"]["containers"][0]["image"] == "offloader:1"
    assert JOB["metadata"].get("annotations") is None  # the input is not modified


def test_replace_and_remove_of_missing_keys_follow_json_patch_v4():
    # v4 lets `replace` create a missing key in an existing object (RFC 6902 says it must fail) ...
    patched = apply_json_patch(JOB, [{"op": "replace", "path": "/spec/completions", "value": 1}])
    assert patched["spec"]["completions"] == 1
    # ... but not under a missing parent, and `remove` of a missing key fails.
    with pytest.raises(PatchError, match="doc is missing path"):
        apply_json_patch(JOB, [{"op": "replace", "path": "/spec/podFailurePolicy/rules", "value": []}])
    with pytest.raises(PatchError, match="Unable to remove nonexistent key"):
        apply_json_patch(JOB, [{"op": "remove", "path": "/spec/completions"}])
