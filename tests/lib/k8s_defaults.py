"""What a Job looks like when the API server hands it to a mutating webhook on
CREATE: the defaults it has applied (completions and parallelism 1 when unset,
backoffLimit 6, completionMode NonIndexed, suspend false, `creationTimestamp:
null`, the pod template's defaults below), and no UID, selector or
controller-uid labels yet."""
import copy


def apply_job_defaults(job: dict) -> dict:
    """The Job with the API server's defaults, as at mutating admission."""
    job = copy.deepcopy(job)
    spec = job["spec"]
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    if "podFailurePolicy" not in spec:
        spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    job.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    template = spec["template"]
    template.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    pod = template["spec"]
    pod.setdefault("restartPolicy", "Never")
    pod.setdefault("terminationGracePeriodSeconds", 30)
    pod.setdefault("dnsPolicy", "ClusterFirst")
    pod.setdefault("securityContext", {})
    pod.setdefault("schedulerName", "default-scheduler")
    for c in pod.get("initContainers", []) + pod["containers"]:
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        c.setdefault("resources", {})
        latest = ":" not in c["image"].rsplit("/", 1)[-1] or c["image"].endswith(":latest")
        c.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
    job.setdefault("status", {})
    return job


def admission_review(job: dict, namespace: str, uid: str, name=None, dry_run=False,
                     api_version="admission.k8s.io/v1") -> dict:
    """The AdmissionReview the API server POSTs for a Job CREATE."""
    kind = {"group": "batch", "version": "v1", "kind": "Job"}
    resource = {"group": "batch", "version": "v1", "resource": "jobs"}
    request = {
        "uid": uid, "kind": kind, "resource": resource, "requestKind": kind,
        "requestResource": resource, "namespace": namespace, "operation": "CREATE",
        "userInfo": {"username": "jane@example.com", "groups": ["system:authenticated"]},
        "object": job, "oldObject": None, "dryRun": dry_run,
        "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1",
                    "fieldManager": "kubectl-client-side-apply"},
    }
    if name is not None:
        request["name"] = name
    return {"apiVersion": api_version, "kind": "AdmissionReview", "request": request}
