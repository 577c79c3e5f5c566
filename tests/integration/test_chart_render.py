"""charts/batch-offload: lint, and every rendered object valid against the Kubernetes 1.30 schemas
(cert-manager objects against its CRDs), unknown fields rejected, in every mode."""
import subprocess
import sys
from pathlib import Path

import pytest

from helm_chart import CHART_DIR, find, install_notes, render, run_helm
from k8s_schema import validate, validate_many
from repo_paths import deps_binary_or_skip

CLIENT_ID = "00000000-0000-0000-0000-000000000001"
CLUSTER_SCOPED = {"MutatingWebhookConfiguration", "ClusterRole", "ClusterRoleBinding"}

SCENARIOS = {
    "defaults (helm certificates, matchConditions)": {},
    "certManager, self-bootstrapped CA": {"certificates": {"mode": "certManager"}},
    "certManager, external ClusterIssuer, RSA": {"certificates": {"mode": "certManager", "certManager": {
        "issuerRef": {"name": "corp-ca", "kind": "ClusterIssuer"}, "privateKeyAlgorithm": "RSA"}}},
    "provided certificate": {"certificates": {"mode": "provided", "provided": {
        "secretName": "my-tls", "caBundle": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="}}},
    "objectSelector, offload namespaces": {"webhook": {"selectorMode": "objectSelector"},
                                           "offload": {"namespaces": ["team-a", "team-b"]}},
    "credentials from values": {"offload": {"namespaces": ["team-a"]}, "credentials": {
        "source": "values", "values": {"BATCHCONNECTIONSTRING": "https://acct.westeurope.batch.azure.com",
                                       "BATCHNAME": "acct", "BATCHPASSWORD": "a2V5", "STORAGEACCOUNT": "st",
                                       "STORAGEKEY": "c2tleQ=="}}},
    "workload identity with ServiceAccounts": {"offload": {"namespaces": ["team-a", "team-b"]}, "credentials": {
        "workloadIdentity": {"enabled": True, "createServiceAccount": True, "clientId": CLIENT_ID,
                             "serviceAccountLabels": {"team": "batch"},
                             "serviceAccountAnnotations": {"example.com/owner": "platform"}}}},
    "workload identity, the platform's ServiceAccounts, Kubernetes access": {
        "offload": {"namespaces": ["team-a"], "offloaderAuth": "workload-identity"},
        "credentials": {"workloadIdentity": {"enabled": True, "clientId": CLIENT_ID}}},
    "no Kubernetes access": {"offload": {"namespaces": ["team-a"]}, "offloader": {"kubernetesAccess": False}},
    "everything optional switched on": {
        "imagePullSecrets": [{"name": "registry"}],
        "webhook": {
            "replicaCount": 3, "failurePolicy": "Ignore", "timeoutSeconds": 3, "priorityClassName": "system-cluster-critical",
            "podAnnotations": {"example.com/team": "platform"}, "podLabels": {"team": "platform"},
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "system", "effect": "NoSchedule"}],
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]}]}}},
            "topologySpread": {"topologyKeys": ["kubernetes.io/hostname", "topology.kubernetes.io/zone"],
                               "whenUnsatisfiable": "DoNotSchedule"},
            "podDisruptionBudget": {"maxUnavailable": "50%"},
            "namespaceSelector": {"excludeNamespaces": ["kube-public", "monitoring"],
                                  "matchLabels": {"batch-offload.io/offload": "allowed"}},
            "serviceAccount": {"annotations": {"example.com/owner": "platform"}},
            "image": {"digest": "sha256:" + "a" * 64},
        },
        "offload": {"namespaces": ["team-a"], "defaultPool": "pool-1", "allowedPools": ["pool-1", "pool_2"],
                    "maxCompletions": 100000, "defaultStorageContainer": "jobs-data", "defaultVmSize": "Standard_D2s_v3"},
        "metrics": {"podAnnotations": False, "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}},
        "networkPolicy": {"enabled": True, "ingressCIDRs": ["10.0.0.0/8", "fd00::/8"],
                          "ingressFrom": [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}]},
    },
}


@pytest.fixture(autouse=True)
def helm():
    return deps_binary_or_skip("helm")


def test_helm_lint_strict():
    result = run_helm(["lint", "--strict", str(CHART_DIR)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("mode", ["certManager", "provided"])
def test_helm_lint_strict_other_certificate_modes(mode):
    values = ["--set", f"certificates.mode={mode}", "--set", "certificates.provided.secretName=tls",
              "--set", "certificates.provided.caBundle=Y2E="]
    result = run_helm(["lint", "--strict", str(CHART_DIR), *values])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("values", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_every_object_is_valid_kubernetes_1_30(values):
    objects = render(values)
    # prometheus-operator's CRD is not among the schemas: ServiceMonitors are checked by hand below.
    checked = [o for o in objects if o["kind"] != "ServiceMonitor"]
    assert validate_many(checked, release="1.30") == []
    # Everything lives in the release namespace, except what the chart puts into offload namespaces
    # and the cluster-scoped webhook configuration and gc's ClusterRole and its binding.
    allowed_namespaces = {"batch-offload", *values.get("offload", {}).get("namespaces", [])}
    for obj in objects:
        if obj["kind"] in CLUSTER_SCOPED:
            assert "namespace" not in obj["metadata"], obj["metadata"]
        else:
            assert obj["metadata"]["namespace"] in allowed_namespaces, obj["metadata"]


def test_service_monitor_has_no_schema_here_and_is_checked_by_hand():
    objects = render(SCENARIOS["everything optional switched on"])
    monitor = find(objects, "ServiceMonitor")
    assert validate(monitor)[0].startswith("(object): no schema for monitoring.coreos.com/v1 ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(monitor) == {"apiVersion", "kind", "metadata", "spec"}
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    service = find(objects, "Service")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["batch-offload"]}
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"] == "https"
    assert (endpoint["scheme"], endpoint["path"]) == ("https", "/metrics")
    assert endpoint["tlsConfig"] == {"serverName": "rel-batch-offload.batch-offload.svc",
                                     "ca": {"secret": {"name": "rel-batch-offload-tls", "key": "ca.crt"}}}


def test_default_install_objects():
    # The only RBAC is gc's (the webhook never calls the Kubernetes API), and nothing is put into
    # other namespaces: offload.namespaces is empty.
    assert sorted((o["kind"], o["metadata"]["name"]) for o in render()) == [
        ("ClusterRole", "rel-batch-offload-gc"), ("ClusterRoleBinding", "rel-batch-offload-gc"),
        ("CronJob", "rel-batch-offload-gc"),
        ("Deployment", "rel-batch-offload"), ("MutatingWebhookConfiguration", "rel-batch-offload"),
        ("PodDisruptionBudget", "rel-batch-offload"), ("Secret", "rel-batch-offload-tls"),
        ("Service", "rel-batch-offload"), ("ServiceAccount", "rel-batch-offload"),
        ("ServiceAccount", "rel-batch-offload-gc")]


def test_rendered_yaml_passes_the_cli_validator_too(tmp_path):
    manifest = tmp_path / "manifest.yaml"
    result = run_helm(["template", "rel", str(CHART_DIR), "--namespace", "batch-offload"])
    manifest.write_text(result.stdout)
    cli = Path(__file__).resolve().parents[1] / "lib" / "k8s_schema.py"
    checked = subprocess.run([sys.executable, str(cli), "--release", "1.30", str(manifest)],
                             capture_output=True, text=True)
    assert (checked.returncode, checked.stdout) == (0, "")


def test_notes_show_how_to_offload_a_job():
    notes = install_notes({"offload": {"namespaces": ["team-a"]}})
    assert 'batch-offload.io/enabled: "true"' in notes
    assert "kubectl apply -n team-a -f job.yaml" in notes
    assert "kubectl logs -n team-a job/word-count -f" in notes
    assert "labels:" not in notes  # matchConditions mode: the annotation is enough


def test_notes_tell_object_selector_users_to_label_jobs_too():
    notes = install_notes({"webhook": {"selectorMode": "objectSelector", "failurePolicy": "Ignore"}})
    assert "AND label it" in notes
    assert notes.count('batch-offload.io/enabled: "true"') == 2
    assert "annotated Jobs run their pods on the\ncluster" in notes
