"""charts/batch-offload: the webhook's Deployment, Service, PDB and MutatingWebhookConfiguration
carry what a platform team expects (restricted pods, HA, draining, narrow matching)."""

import pytest

from helm_chart import find, render, render_error
from repo_paths import deps_binary_or_skip

CLIENT_ID = "00000000-0000-0000-0000-000000000001"
EXPRESSION = ("has(object.metadata.annotations) && "
              "'batch-offload.io/enabled' in object.metadata.annotations && "
              "object.metadata.annotations['batch-offload.io/enabled'] != 'false'")


@pytest.fixture(autouse=True)
def helm():
    return deps_binary_or_skip("helm")


@pytest.fixture(scope="module")
def default_objects():
    deps_binary_or_skip("helm")
    return render()


@pytest.fixture(scope="module")
def pod(default_objects):
    return find(default_objects, "Deployment")["spec"]["template"]["spec"]


@pytest.fixture(scope="module")
def container(pod):
    [webhook] = pod["containers"]
    return webhook


def webhook_of(objects):
    [webhook] = find(objects, "MutatingWebhookConfiguration")["webhooks"]
    return webhook


def args_of(objects):
    [container] = find(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    return container["args"]


def test_pod_security_restricted(pod, container):
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532,
                                      "fsGroup": 65532, "seccompProfile": {"type": "RuntimeDefault"}}
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == 65532 and security["runAsGroup"] == 65532
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["privileged"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    for forbidden in ("hostNetwork", "hostPID", "hostIPC"):
        assert forbidden not in pod


def test_ports_probes_and_resources(container):
    assert container["ports"] == [{"name": "https", "containerPort": 8443, "protocol": "TCP"}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "https", "scheme": "HTTPS"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "https", "scheme": "HTTPS"}
    assert container["resources"] == {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}}


def test_serving_certificate_mounted_as_a_directory(pod, container):
    [mount] = container["volumeMounts"]
    assert mount == {"name": "tls", "mountPath": "/etc/batch-offload/tls", "readOnly": True}  # no subPath
    [volume] = pod["volumes"]
    assert volume == {"name": "tls", "secret": {"secretName": "rel-batch-offload-tls", "defaultMode": 0o440}}


def test_command_line_defaults(container):
    assert container["args"] == [
        "--listen=0.0.0.0:8443",
        "--tls-cert=/etc/batch-offload/tls/tls.crt",
        "--tls-key=/etc/batch-offload/tls/tls.key",
        "--offloader-image=ghcr.io/batch-offload/batch-offloader:0.1.0",
        "--credentials-secret=batch-offload-credentials",
        "--max-completions=10000",
        "--secret-env=warn",
        "--offloader-backoff-limit=3",
        "--threads=2",
        "--max-connections=1024",
        "--max-body-bytes=3145728",
        "--max-buffered-bytes=16777216",
        "--shutdown-delay=5",
        "--drain-timeout=20",
        "--log-level=info",
    ]
    assert container["image"] == "ghcr.io/batch-offload/offload-webhook:0.1.0"
    assert "command" not in container  # the image's entrypoint is offload-webhook


def test_server_limits_that_cannot_hold_one_review_fail_rendering():
    error = render_error({"webhook": {"server": {"threads": 2, "maxConnections": 1024,
                                                 "maxBodyBytes": 3145728, "maxBufferedBytes": 1000000}}})
    assert "webhook.server.maxBufferedBytes (1000000) must hold at least one review of " \
           "webhook.server.maxBodyBytes (3145728)" in error


def test_command_line_from_every_value():
    args = args_of(render({
        "offload": {"namespaces": ["team-a", "team-b"], "defaultPool": "pool-1", "allowedPools": ["pool-1", "pool_2"],
                    "maxCompletions": 100000, "secretEnv": "deny", "defaultStorageContainer": "jobs-data",
                    "defaultVmSize": "Standard_D2s_v3"},
        "offloader": {"image": {"repository": "registry.example.com:5000/batch/offloader", "tag": "1.2.3",
                                "digest": "sha256:" + "b" * 64}, "backoffLimit": 5,
                      "serviceAccountName": "offloader"},
        "credentials": {"secretName": "azure-batch", "workloadIdentity": {"enabled": True, "clientId": CLIENT_ID,
                                                                          "serviceAccountName": "offloader"}},
        "webhook": {"shutdownDelaySeconds": 10, "drainTimeoutSeconds": 40, "terminationGracePeriodSeconds": 60,
                    "logLevel": "debug", "server": {"threads": 4, "maxConnections": 300,
                                                    "maxBodyBytes": 1048576, "maxBufferedBytes": 50000000}},
    }))
    assert args[3:] == [
        "--offloader-image=registry.example.com:5000/batch/offloader:1.2.3@sha256:" + "b" * 64,
        "--credentials-secret=azure-batch",
        "--default-pool=pool-1",
        "--allowed-pools=pool-1,pool_2",
        "--max-completions=100000",  # the contract's limit, as an integer
        "--secret-env=deny",
        "--default-storage-container=jobs-data",
        "--default-vm-size=Standard_D2s_v3",
        "--allowed-namespaces=team-a,team-b",
        "--offloader-service-account=offloader",
        "--workload-identity",
        "--offloader-api-access",
        "--offloader-backoff-limit=5",
        "--threads=4",
        "--max-connections=300",
        "--max-body-bytes=1048576",
        "--max-buffered-bytes=50000000",  # an integer, not 5e+07
        "--shutdown-delay=10",
        "--drain-timeout=40",
        "--log-level=debug",
    ]


def flag_value(container, flag):
    return int(next(a for a in container["args"] if a.startswith(f"--{flag}=")).split("=")[1])


def test_shutdown_delay_and_drain_fit_in_the_grace_period(pod, container):
    """Defaults: 5 s serving while not ready + 20 s draining, 5 s to spare before the kubelet's SIGKILL."""
    delay, drain = flag_value(container, "shutdown-delay"), flag_value(container, "drain-timeout")
    assert (delay, drain, pod["terminationGracePeriodSeconds"]) == (5, 20, 30)
    assert delay + drain < pod["terminationGracePeriodSeconds"]


@pytest.mark.parametrize("delay, drain, grace", [(0, 30, 30), (0, 31, 30), (5, 25, 30), (10, 20, 30), (30, 0, 30)])
def test_shutdown_delay_plus_drain_not_shorter_than_the_grace_period_is_refused(delay, drain, grace):
    error = render_error({"webhook": {"shutdownDelaySeconds": delay, "drainTimeoutSeconds": drain,
                                      "terminationGracePeriodSeconds": grace}})
    assert (f"webhook.shutdownDelaySeconds ({delay}) + webhook.drainTimeoutSeconds ({drain}) = {delay + drain} "
            f"must be less than webhook.terminationGracePeriodSeconds ({grace})") in error


@pytest.mark.parametrize("delay, drain, grace", [(0, 29, 30), (9, 20, 30), (0, 0, 1)])
def test_shutdown_delay_plus_drain_just_under_the_grace_period_renders(delay, drain, grace):
    [container] = find(render({"webhook": {"shutdownDelaySeconds": delay, "drainTimeoutSeconds": drain,
                                           "terminationGracePeriodSeconds": grace}}),
                       "Deployment")["spec"]["template"]["spec"]["containers"]
    assert (flag_value(container, "shutdown-delay"), flag_value(container, "drain-timeout")) == (delay, drain)


def test_high_availability(default_objects, pod):
    deployment = find(default_objects, "Deployment")
    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    selector = deployment["spec"]["selector"]["matchLabels"]
    [spread] = pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert spread["whenUnsatisfiable"] == "ScheduleAnyway"
    assert spread["labelSelector"] == {"matchLabels": selector}
    budget = find(default_objects, "PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1
    assert budget["spec"]["selector"] == {"matchLabels": selector}
    assert "priorityClassName" not in pod


def test_priority_class_and_placement_values():
    pod = find(render({"webhook": {"priorityClassName": "system-cluster-critical",
                                   "nodeSelector": {"kubernetes.io/os": "linux"},
                                   "topologySpread": {"enabled": False}}}), "Deployment")["spec"]["template"]["spec"]
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert "topologySpreadConstraints" not in pod


def test_service_reaches_the_named_port(default_objects):
    service = find(default_objects, "Service")
    assert service["spec"]["ports"] == [{"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"}]
    pod_labels = find(default_objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


def test_recommended_labels(default_objects):
    for obj in default_objects:
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "batch-offload"
        assert labels["app.kubernetes.io/instance"] == "rel"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/version"] == "0.1.0"
        assert labels["helm.sh/chart"] == "batch-offload-0.1.0"


def test_prometheus_annotations_by_default(default_objects):
    annotations = find(default_objects, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"prometheus.io/scrape": "true", "prometheus.io/scheme": "https",
                           "prometheus.io/port": "8443", "prometheus.io/path": "/metrics"}


def test_webhook_registration(default_objects):
    configuration = find(default_objects, "MutatingWebhookConfiguration")
    assert configuration["metadata"]["name"] == "rel-batch-offload"
    webhook = webhook_of(default_objects)
    assert webhook["name"] == "jobs.batch-offload.io"
    assert webhook["admissionReviewVersions"] == ["v1"]
    assert webhook["sideEffects"] == "None"
    assert webhook["failurePolicy"] == "Fail"
    assert webhook["timeoutSeconds"] == 5
    assert webhook["matchPolicy"] == "Equivalent"
    assert webhook["reinvocationPolicy"] == "Never"
    assert webhook["rules"] == [{"apiGroups": ["batch"], "apiVersions": ["v1"], "resources": ["jobs"],
                                 "operations": ["CREATE"], "scope": "Namespaced"}]
    assert webhook["clientConfig"]["service"] == {"name": "rel-batch-offload", "namespace": "batch-offload",
                                                  "path": "/mutate", "port": 443}


def test_failure_policy_and_timeout_come_from_values():
    webhook = webhook_of(render({"webhook": {"failurePolicy": "Ignore", "timeoutSeconds": 2}}))
    assert (webhook["failurePolicy"], webhook["timeoutSeconds"]) == ("Ignore", 2)


def test_match_conditions_send_only_annotated_jobs(default_objects):
    webhook = webhook_of(default_objects)
    assert webhook["matchConditions"] == [{"name": "batch-offload-enabled", "expression": EXPRESSION}]
    assert "objectSelector" not in webhook


def test_object_selector_mode_for_older_clusters():
    webhook = webhook_of(render({"webhook": {"selectorMode": "objectSelector"}}, kube_version="1.27.0"))
    assert webhook["objectSelector"] == {"matchLabels": {"batch-offload.io/enabled": "true"}}
    assert "matchConditions" not in webhook


def test_match_conditions_need_kubernetes_1_28():
    error = render_error(kube_version="1.27.0")
    assert "matchConditions needs Kubernetes 1.28 or later" in error
    assert "webhook.selectorMode=objectSelector" in error
    assert webhook_of(render(kube_version="1.28.0"))["matchConditions"]


def test_namespace_selector_excludes_system_and_own_namespaces(default_objects):
    selector = webhook_of(default_objects)["namespaceSelector"]
    assert selector == {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                                              "values": ["kube-system", "kube-node-lease", "batch-offload",
                                                         "kube-public"]}]}


def test_namespace_selector_includes_only_offload_namespaces_and_labels():
    selector = webhook_of(render({
        "offload": {"namespaces": ["team-a", "team-b"]},
        "webhook": {"namespaceSelector": {"excludeNamespaces": [], "matchLabels": {"batch-offload.io/offload": "yes"}}},
    }))["namespaceSelector"]
    assert selector == {
        "matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "NotIn",
             "values": ["kube-system", "kube-node-lease", "batch-offload"]},  # always, even with [] above
            {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["team-a", "team-b"]},
        ],
        "matchLabels": {"batch-offload.io/offload": "yes"},
    }


def test_release_namespace_cannot_offload():
    error = render_error({"offload": {"namespaces": ["team-a", "batch-offload"]}})
    assert 'offload.namespaces must not contain the release namespace "batch-offload"' in error


def test_network_policy_allows_only_ingress_to_8443():
    objects = render({"networkPolicy": {"enabled": True}})
    policy = find(objects, "NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["ingress"] == [{"ports": [{"port": 8443, "protocol": "TCP"}]}]  # from anywhere
    assert policy["egress"] == []
    assert policy["podSelector"] == find(objects, "Deployment")["spec"]["selector"]


def test_network_policy_sources_from_values():
    policy = find(render({"networkPolicy": {"enabled": True, "ingressCIDRs": ["10.0.0.0/8"], "ingressFrom": [
        {"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}]}}), "NetworkPolicy")["spec"]
    assert policy["ingress"][0]["from"] == [{"ipBlock": {"cidr": "10.0.0.0/8"}},
                                            {"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}]
