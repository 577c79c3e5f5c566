"""The kubelet stand-in (tests/lib/kubelet_standin.py) behind the real control plane: the Job
controller, the garbage collector, the Eviction API and the API server's authentication see what a
kubelet would show them. The pods' image is /bin/sh: each container's first arg is its script.
Needs BATCH_OFFLOAD_KUBE_ASSETS: skipped, saying so, without it."""
import base64
import json
import time
import urllib.error
from pathlib import Path

import pytest

from batch_emulator.testing import wait_until

SHELL_IMAGE = "registry.example.com/test/shell:1"
CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
# Holds a pod object after the kubelet's final delete, so that a test can read its last status.
KEEP = "test.batch-offload.io/keep"
# Prints "started", then runs until SIGTERM, which it notes before exiting as an unhandled one would.
UNTIL_SIGTERM = 'trap "echo SIGTERM; exit 143" TERM; echo started; while true; do sleep 0.1; done'
TIMEOUT = 30  # seconds for anything the control plane and the stand-in do between them


@pytest.fixture(scope="module")
def kubelet_images():
    return {SHELL_IMAGE: ["/bin/sh", "-c"]}


def pod_spec(script: str, container: dict = None, **spec) -> dict:
    return {"restartPolicy": "Never", "terminationGracePeriodSeconds": 5, **spec,
            "containers": [{"name": "main", "image": SHELL_IMAGE, "args": [script], **(container or {})}]}


def job(name: str, script: str, container: dict = None, pod_finalizers: list = (), **spec) -> dict:
    """A Job of one pod running `script`; backoffLimit 0 unless spec says otherwise."""
    template = {"metadata": {"finalizers": list(pod_finalizers)}, "spec": pod_spec(script, container)}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"backoffLimit": 0, **spec, "template": template}}


def bare_pod(name: str, script: str, **spec) -> dict:
    """A pod of no Job; held by KEEP, so its last status stays readable."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "finalizers": [KEEP]},
            "spec": pod_spec(script, **spec)}


def read_pod(plane, namespace: str, name: str):
    """The pod as stored, None once it is gone."""
    try:
        return plane.api("GET", f"/api/v1/namespaces/{namespace}/pods/{name}")
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


def let_go(plane, namespace: str, name: str):
    plane.kubectl("patch", "pod", name, "-n", namespace, "--type=json",
                  "-p", '[{"op": "remove", "path": "/metadata/finalizers"}]')


def job_pods(plane, namespace: str, job_name: str) -> list:
    pods = plane.get("pods", namespace=namespace, selector=f"job-name={job_name}")
    return sorted(pods, key=lambda pod: pod["metadata"]["creationTimestamp"])


def job_pod(plane, namespace: str, job_name: str) -> dict:
    """The Job's one pod, once the Job controller made it."""
    [pod] = wait_until(lambda: job_pods(plane, namespace, job_name), timeout=TIMEOUT, interval=0.1,
                       what=f"the pod of Job {job_name}")
    return pod


def wait_for_output(kubelet, namespace: str, pod: str, text: str):
    wait_until(lambda: text in kubelet.logs(namespace, pod), timeout=TIMEOUT, interval=0.1,
               what=f"{text!r} in the output of {pod}")


def started_job_pod(plane, kubelet, namespace: str, job_name: str) -> str:
    """The name of the Job's pod once its script said "started"."""
    name = job_pod(plane, namespace, job_name)["metadata"]["name"]
    wait_for_output(kubelet, namespace, name, "started")
    return name


def pod_status_when(plane, namespace: str, name: str, probe, what: str) -> dict:
    """The pod once probe(pod) holds."""
    return wait_until(lambda: (pod := read_pod(plane, namespace, name)) and probe(pod) and pod,
                      timeout=TIMEOUT, interval=0.1, what=what)


def container_state(pod: dict) -> dict:
    [status] = pod["status"].get("containerStatuses", [{"state": {}}])
    return status["state"]


def condition(obj: dict, kind: str):
    return next((c for c in obj["status"].get("conditions", []) if c["type"] == kind), None)


def job_condition(plane, namespace: str, name: str, kind: str) -> dict:
    job_object = wait_until(lambda: (found := plane.get("job", name, namespace)) and condition(found, kind) and found,
                            timeout=TIMEOUT, interval=0.2, what=f"Job {name} {kind}")
    return condition(job_object, kind)


def test_a_pod_that_exits_0_completes_its_job(control_plane, kubelet, kubelet_namespace):
    namespace = kubelet_namespace
    control_plane.apply(job("completes", "echo hello from the pod"), namespace)

    control_plane.kubectl("wait", "--for=condition=complete", "job/completes", "-n", namespace, "--timeout=60s")
    [pod] = job_pods(control_plane, namespace, "completes")
    assert pod["spec"]["nodeName"] == kubelet.node_name
    assert condition(pod, "PodScheduled")["status"] == "True"
    assert pod["status"]["phase"] == "Succeeded"
    terminated = container_state(pod)["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed")
    assert terminated["startedAt"] <= terminated["finishedAt"]
    assert control_plane.get("job", "completes", namespace)["status"]["succeeded"] == 1
    assert kubelet.logs(namespace, pod["metadata"]["name"]) == "hello from the pod\n"


def test_a_running_pod_is_ready_to_the_job_controller(control_plane, kubelet, kubelet_namespace):
    namespace = kubelet_namespace
    control_plane.apply(job("runs", UNTIL_SIGTERM), namespace)
    name = started_job_pod(control_plane, kubelet, namespace, "runs")

    # The Job controller counts the pod ready from its Ready condition.
    wait_until(lambda: control_plane.get("job", "runs", namespace)["status"].get("ready") == 1,
               timeout=TIMEOUT, interval=0.2, what="the Job controller to count the pod ready")
    pod = read_pod(control_plane, namespace, name)
    status = pod["status"]
    assert status["phase"] == "Running"
    assert status["podIP"] == status["hostIP"] == "127.0.0.1"
    for kind in ("PodScheduled", "PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready"):
        assert condition(pod, kind)["status"] == "True", kind
    [container] = status["containerStatuses"]
    assert (container["ready"], container["started"], container["restartCount"]) == (True, True, 0)
    assert container["image"] == SHELL_IMAGE and container["imageID"] and container["containerID"]
    assert set(container["state"]) == {"running"} and container["state"]["running"]["startedAt"]
    node = control_plane.get("node", kubelet.node_name)
    assert condition(node, "Ready")["status"] == "True"
    assert {"cpu", "memory", "pods"} <= set(node["status"]["allocatable"])


def test_exit_1_fails_the_job_through_its_pod_failure_policy(control_plane, kubelet_namespace):
    namespace = kubelet_namespace
    fail_on_1 = {"rules": [{"action": "FailJob", "onExitCodes": {
        "containerName": "main", "operator": "In", "values": [1]}}]}
    control_plane.apply(job("fails", "exit 1", backoffLimit=6, podFailurePolicy=fail_on_1), namespace)

    failed = job_condition(control_plane, namespace, "fails", "Failed")
    assert failed["reason"] == "PodFailurePolicy"
    assert "failed with exit code 1 matching FailJob rule" in failed["message"]
    assert control_plane.get("job", "fails", namespace)["status"]["failed"] == 1


def test_exit_3_is_retried_in_a_new_pod_until_the_backoff_limit(control_plane, kubelet_namespace):
    namespace = kubelet_namespace
    # The offloader's policy: 1 and 2 fail the Job, 3 (Azure unreachable) is worth another pod.
    offloader_policy = {"rules": [{"action": "FailJob", "onExitCodes": {
        "containerName": "main", "operator": "In", "values": [1, 2]}}]}
    control_plane.apply(job("retried", "echo attempt; exit 3", backoffLimit=1, podFailurePolicy=offloader_policy),
                        namespace)

    # The Job controller waits 10 s before the second pod.
    failed = job_condition(control_plane, namespace, "retried", "Failed")
    assert failed["reason"] == "BackoffLimitExceeded"
    pods = job_pods(control_plane, namespace, "retried")
    assert len(pods) == 2
    for pod in pods:
        assert pod["status"]["phase"] == "Failed"
        assert container_state(pod)["terminated"]["exitCode"] == 3
    assert control_plane.get("job", "retried", namespace)["status"]["failed"] == 2


# A parametrized fixture, not a mark: the file's skip stays one line of -rs.
@pytest.fixture(params=["foreground", "background"])
def cascade(request) -> str:
    return request.param


def test_kubectl_delete_job_sigterms_its_pod(control_plane, kubelet, kubelet_namespace, cascade):
    namespace = kubelet_namespace
    control_plane.apply(job("deleted", UNTIL_SIGTERM), namespace)
    name = started_job_pod(control_plane, kubelet, namespace, "deleted")

    control_plane.kubectl("delete", "job", "deleted", "-n", namespace, f"--cascade={cascade}")
    if cascade == "foreground":
        # The Job went only once its pod had.
        assert read_pod(control_plane, namespace, name) is None
    wait_until(lambda: read_pod(control_plane, namespace, name) is None, timeout=TIMEOUT, interval=0.1,
               what="the pod to go")
    assert kubelet.logs(namespace, name) == "started\nSIGTERM\n"


def test_an_eviction_sigterms_the_pod_and_the_job_runs_a_new_one(control_plane, kubelet, kubelet_namespace):
    namespace = kubelet_namespace
    ignore_disruptions = {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}
    control_plane.apply(job("evicted", UNTIL_SIGTERM, podFailurePolicy=ignore_disruptions, pod_finalizers=[KEEP]),
                        namespace)
    name = started_job_pod(control_plane, kubelet, namespace, "evicted")

    control_plane.api("POST", f"/api/v1/namespaces/{namespace}/pods/{name}/eviction",
                      {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}})
    # Held by KEEP after the stand-in's final delete (a grace period of 0 then).
    pod = pod_status_when(control_plane, namespace, name,
                          lambda p: p["metadata"].get("deletionGracePeriodSeconds") == 0,
                          "the stand-in's final delete")
    disruption = condition(pod, "DisruptionTarget")
    assert (disruption["status"], disruption["reason"]) == ("True", "EvictionByEvictionAPI")
    assert pod["status"]["phase"] == "Failed"
    assert container_state(pod)["terminated"]["exitCode"] == 143
    assert kubelet.logs(namespace, name) == "started\nSIGTERM\n"

    # Ignored: no failure counted (backoffLimit 0 would fail the Job), and a new pod runs, after the
    # 10 s the Job controller waits after any failed pod, ignored or not.
    replacement = wait_until(lambda: [p for p in job_pods(control_plane, namespace, "evicted")
                                      if p["metadata"]["name"] != name],
                             timeout=TIMEOUT, interval=0.2, what="the Job controller to replace the pod")
    wait_for_output(kubelet, namespace, replacement[0]["metadata"]["name"], "started")
    job_status = control_plane.get("job", "evicted", namespace)["status"]
    assert job_status.get("failed", 0) == 0 and job_status["active"] == 1
    for pod in job_pods(control_plane, namespace, "evicted"):
        let_go(control_plane, namespace, pod["metadata"]["name"])


def test_suspending_the_job_sigterms_its_pod(control_plane, kubelet, kubelet_namespace):
    namespace = kubelet_namespace
    control_plane.apply(job("suspended", UNTIL_SIGTERM), namespace)
    name = started_job_pod(control_plane, kubelet, namespace, "suspended")

    control_plane.kubectl("patch", "job", "suspended", "-n", namespace, "--type=merge", "-p", '{"spec": {"suspend": true}}')
    wait_until(lambda: read_pod(control_plane, namespace, name) is None, timeout=TIMEOUT, interval=0.1,
               what="the Job controller to delete the pod")
    assert kubelet.logs(namespace, name) == "started\nSIGTERM\n"
    assert job_condition(control_plane, namespace, "suspended", "Suspended")["status"] == "True"


def test_a_pod_that_outlives_its_grace_period_is_killed(control_plane, kubelet, kubelet_namespace):
    namespace = kubelet_namespace
    ignores_sigterm = 'trap "echo SIGTERM ignored" TERM; echo started; while true; do sleep 0.1; done'
    control_plane.apply(bare_pod("stubborn", ignores_sigterm, terminationGracePeriodSeconds=2), namespace)
    wait_for_output(kubelet, namespace, "stubborn", "started")

    deleted_at = time.monotonic()
    control_plane.kubectl("delete", "pod", "stubborn", "-n", namespace, "--wait=false")
    pod = pod_status_when(control_plane, namespace, "stubborn", lambda p: p["status"]["phase"] == "Failed",
                          "the pod's last status")
    assert 2 <= time.monotonic() - deleted_at < 10
    terminated = container_state(pod)["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (137, "Error")
    assert kubelet.logs(namespace, "stubborn") == "started\nSIGTERM ignored\n"
    let_go(control_plane, namespace, "stubborn")


def test_a_force_deleted_pod_still_gets_sigterm(control_plane, kubelet, kubelet_namespace):
    """The v1.31 kubelet stops a force-deleted pod's containers as any other, with SIGTERM, though the
    pod is gone from the API at once."""
    namespace = kubelet_namespace
    pod = bare_pod("forced", UNTIL_SIGTERM)
    del pod["metadata"]["finalizers"]
    control_plane.apply(pod, namespace)
    wait_for_output(kubelet, namespace, "forced", "started")

    control_plane.kubectl("delete", "pod", "forced", "-n", namespace, "--force", "--grace-period=0")
    assert read_pod(control_plane, namespace, "forced") is None
    wait_for_output(kubelet, namespace, "forced", "SIGTERM")


def test_kill_ends_the_process_as_the_oom_killer_would(control_plane, kubelet, kubelet_namespace):
    namespace = kubelet_namespace
    control_plane.apply(bare_pod("killed", UNTIL_SIGTERM), namespace)
    wait_for_output(kubelet, namespace, "killed", "started")

    kubelet.kill(namespace, "killed")
    pod = pod_status_when(control_plane, namespace, "killed", lambda p: p["status"]["phase"] == "Failed",
                          "the pod to fail")
    terminated = container_state(pod)["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (137, "OOMKilled")
    assert "deletionTimestamp" not in pod["metadata"]
    assert "SIGTERM" not in kubelet.logs(namespace, "killed")
    let_go(control_plane, namespace, "killed")


def secret(name: str, data: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
            "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}}


def test_the_environment_is_resolved_as_the_kubelet_does(control_plane, kubelet, kubelet_namespace):
    namespace = kubelet_namespace
    control_plane.apply(secret("credentials", {"password": "pa55", "user": "batch"}), namespace)
    control_plane.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
                         "data": {"mode": "fast", "OVERRIDDEN": "by the ConfigMap", "1NVALID": "skipped"},
                         "binaryData": {"BINARY": base64.b64encode(b"volumes only").decode()}},
                        namespace)

    def field(path):
        return {"valueFrom": {"fieldRef": {"fieldPath": path}}}
    env = [{"name": "GREETING", "value": "hello"},
           {"name": "EXPANDED", "value": "$(GREETING) world, $$(GREETING) escaped, $(UNDEFINED) kept"},
           {"name": "API", "value": "https://$(KUBERNETES_SERVICE_HOST):$(KUBERNETES_SERVICE_PORT)"},
           {"name": "OVERRIDDEN", "value": "by env"},
           {"name": "POD_NAME", **field("metadata.name")}, {"name": "POD_NAMESPACE", **field("metadata.namespace")},
           {"name": "POD_UID", **field("metadata.uid")}, {"name": "JOB_UID", **field(f"metadata.labels['{CONTROLLER_UID}']")},
           {"name": "NODE", **field("spec.nodeName")}, {"name": "ACCOUNT", **field("spec.serviceAccountName")},
           {"name": "POD_IP", **field("status.podIP")},
           {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "credentials", "key": "password"}}},
           {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}},
           {"name": "OPTIONAL", "valueFrom": {"secretKeyRef": {"name": "credentials", "key": "absent",
                                                               "optional": True}}}]
    env_from = [{"secretRef": {"name": "credentials"}, "prefix": "CREDENTIALS_"}, {"configMapRef": {"name": "settings"}}]
    prints_env = 'echo "argument: $0"; env'  # sh -c: the next arg is $0
    env_job = job("env", prints_env, {"env": env, "envFrom": env_from, "args": [prints_env, "$(GREETING) there"]})
    env_job["spec"]["template"]["spec"]["automountServiceAccountToken"] = False
    control_plane.apply(env_job, namespace)

    control_plane.kubectl("wait", "--for=condition=complete", "job/env", "-n", namespace, "--timeout=60s")
    [pod] = job_pods(control_plane, namespace, "env")
    output = kubelet.logs(namespace, pod["metadata"]["name"]).splitlines()
    assert output[0] == "argument: hello there"  # $(VAR) in args too
    seen = dict(line.split("=", 1) for line in output[1:])
    assert seen["GREETING"] == "hello"
    assert seen["EXPANDED"] == "hello world, $(GREETING) escaped, $(UNDEFINED) kept"
    assert seen["API"] == control_plane.url
    assert (seen["POD_NAME"], seen["HOSTNAME"], seen["POD_NAMESPACE"], seen["POD_UID"]) == (
        pod["metadata"]["name"], pod["metadata"]["name"], namespace, pod["metadata"]["uid"])
    assert seen["JOB_UID"] == control_plane.get("job", "env", namespace)["metadata"]["uid"]
    assert (seen["NODE"], seen["ACCOUNT"], seen["POD_IP"]) == (kubelet.node_name, "default", pod["status"]["podIP"])
    assert (seen["PASSWORD"], seen["MODE"]) == ("pa55", "fast")
    assert (seen["CREDENTIALS_password"], seen["CREDENTIALS_user"], seen["mode"]) == ("pa55", "batch", "fast")
    assert seen["OVERRIDDEN"] == "by env"  # env over envFrom
    assert "OPTIONAL" not in seen and "1NVALID" not in seen and "BINARY" not in seen
    assert "KUBERNETES_SERVICE_PORT_HTTPS" in seen
    assert "BATCH_OFFLOAD_SERVICEACCOUNT_DIR" not in seen  # no token mounted
    assert "PYTEST_CURRENT_TEST" not in seen  # nothing of the test runner's environment


def test_a_missing_secret_holds_the_container_until_it_is_there(control_plane, kubelet, kubelet_namespace):
    namespace = kubelet_namespace
    token = {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "late", "key": "token"}}}
    control_plane.apply(job("waits", 'echo "token: $TOKEN"', {"env": [token]}), namespace)
    name = job_pod(control_plane, namespace, "waits")["metadata"]["name"]

    def waiting_with(message):
        pod = pod_status_when(control_plane, namespace, name,
                              lambda p: container_state(p).get("waiting", {}).get("message") == message,
                              f"the container to wait with {message!r}")
        assert container_state(pod)["waiting"]["reason"] == "CreateContainerConfigError"
        assert pod["status"]["phase"] == "Pending"
        assert kubelet.logs(namespace, name) == ""  # not started
    waiting_with('secret "late" not found')
    control_plane.apply(secret("late", {"other": "x"}), namespace)
    waiting_with(f"couldn't find key token in Secret {namespace}/late")

    control_plane.apply(secret("late", {"token": "now-here"}), namespace)
    control_plane.kubectl("wait", "--for=condition=complete", "job/waits", "-n", namespace, "--timeout=60s")
    assert kubelet.logs(namespace, name) == "token: now-here\n"


def test_an_image_without_a_program_waits_in_image_pull_errors(control_plane, kubelet, kubelet_namespace):
    namespace = kubelet_namespace
    control_plane.apply(bare_pod("unpulled", "true", container={"image": "registry.example.com/nowhere:1"}),
                        namespace)

    for reason in ("ErrImagePull", "ImagePullBackOff"):
        pod = pod_status_when(control_plane, namespace, "unpulled",
                              lambda p: container_state(p).get("waiting", {}).get("reason") == reason,
                              f"the container to wait in {reason}")
        assert "registry.example.com/nowhere:1" in container_state(pod)["waiting"]["message"]
        assert pod["status"]["phase"] == "Pending"
    let_go(control_plane, namespace, "unpulled")


def jwt_claims(token: bytes) -> dict:
    payload = token.split(b".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))


def test_the_service_account_token_is_accepted_and_rotated(control_plane, kubelet, kubelet_namespace):
    namespace = kubelet_namespace
    control_plane.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                         "metadata": {"name": "read-pods"},
                         "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}, namespace)
    control_plane.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                         "metadata": {"name": "read-pods"},
                         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-pods"},
                         "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": namespace}]},
                        namespace)
    # What an in-cluster client does: the Service's address, the token, the CA and the namespace.
    in_cluster_client = """
        dir=$BATCH_OFFLOAD_SERVICEACCOUNT_DIR
        get() { curl -sS -o /dev/null -w '%{http_code}' --cacert "$dir/ca.crt" \\
                     -H "Authorization: Bearer $(cat "$dir/token")" \\
                     "https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/api/v1/namespaces/$(cat "$dir/namespace")/$1"; }
        echo "dir: $dir"
        echo "own pod: $(get "pods/$HOSTNAME") secrets: $(get secrets)"
    """
    control_plane.apply(job("in-cluster", in_cluster_client + UNTIL_SIGTERM), namespace)
    name = started_job_pod(control_plane, kubelet, namespace, "in-cluster")

    output = kubelet.logs(namespace, name)
    assert "own pod: 200 secrets: 403" in output  # the Role's rights: it is the ServiceAccount
    directory = Path(output.split("dir: ", 1)[1].split("\n", 1)[0])
    assert (directory / "ca.crt").read_bytes() == control_plane.ca_file.read_bytes()
    assert (directory / "namespace").read_text() == namespace
    first = (directory / "token").read_bytes()
    claims = jwt_claims(first)
    assert claims["kubernetes.io"]["pod"]["name"] == name
    assert claims["sub"] == f"system:serviceaccount:{namespace}:default"

    # Rotated: a new token, through a new ..data (the kubelet's atomic swap), accepted as well.
    data_dir = (directory / "..data").resolve()
    rotated = wait_until(lambda: (token := (directory / "token").read_bytes()) != first and token,
                         timeout=5 * kubelet.token_refresh_seconds, interval=0.2, what="the token to rotate")
    assert (directory / "..data").resolve() != data_dir and (directory / "token").is_symlink()
    own_pod = f"/api/v1/namespaces/{namespace}/pods/{name}"
    assert control_plane.api("GET", own_pod, token=rotated.decode())["metadata"]["name"] == name

    # Bound to the pod: once it is gone, the API server refuses its token (after up to 10 s, for
    # which it keeps a token it accepted).
    control_plane.kubectl("delete", "job", "in-cluster", "-n", namespace, "--cascade=foreground")

    def answer_to_the_token():
        try:
            return control_plane.api("GET", own_pod, token=rotated.decode())
        except urllib.error.HTTPError as error:
            return error.code  # 404 while accepted: the pod is not there
    wait_until(lambda: answer_to_the_token() == 401, timeout=TIMEOUT, interval=0.5, what="the token to be refused")
