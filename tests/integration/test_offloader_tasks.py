"""What the Batch tasks actually ran. The emulator runs each container task as the image map says
(tests/lib/offloader_probe.py prints its argv, cwd and environment); these tests read that back and
compare it with what the kubelet would have run for the same container: command/args after $(VAR)
expansion, `command` replacing the image's ENTRYPOINT, the environment in the kubelet's order with
valueFrom and envFrom values forwarded by the webhook, JOB_COMPLETION_INDEX per worker."""
import base64
import json

import pytest

from offloader_process import (PROBE, PULL_SECRET_PASSWORD, REGISTRY_PASSWORD, SECRET_ENV_VALUE,
                               batch, list_tasks, offload_emulator, offloader, offloader_binary,  # noqa: F401
                               stats, task_report, worker_ids)
from batch_emulator.testing import PYTHON

# Words a shell, a splitter or an expander could get wrong, with what the kubelet passes for them.
AWKWARD_ARGS = [
    ("plain", "plain"),
    ("with space", "with space"),
    ("it's \"quoted\"", "it's \"quoted\""),
    ("$$(GREETING)", "$(GREETING)"),
    ("$(GREETING)", "hello"),
    ("$(GREETING)$(GREETING)", "hellohello"),
    ("$(UNDEFINED)", "$(UNDEFINED)"),
    ("", ""),
    ("ünïcödé ☃ 中文 $€", "ünïcödé ☃ 中文 $€"),
    ("a$$b", "a$b"),
    ("$$$(GREETING)", "$hello"),
    ("tab\there", "tab\there"),
    ("new\nline", "new\nline"),
    ("*", "*"),
    ("~", "~"),
    ("#not-a-comment", "#not-a-comment"),
    ("back\\slash\\", "back\\slash\\"),
    ("$HOME ${HOME} `id` $(id", "$HOME ${HOME} `id` $(id"),
    ("$(DERIVED)", "hello-derived-$(UNDEFINED_X)"),
    ("--namespace=$(FROM_FIELD)", "--namespace=team-a"),
    ("--cm=$(CM_KEY)", "--cm=from-config-map"),
    ("'", "'"),
    ('"', '"'),
    ("$", "$"),
    ("semi;colon&amp|pipe>redirect<in", "semi;colon&amp|pipe>redirect<in"),
    ("  leading and trailing  ", "  leading and trailing  "),
]

# The worker container as the webhook forwards it, and the offloader pod's variables the kubelet
# resolved for it: env[2] (a secret) and env[3] (a field) as BATCH_OFFLOAD_WORKER_ENV_<i>, the two
# envFrom sources as BATCH_OFFLOAD_WORKER_ENVFROM_<j>_<NAME>.
ENV = [
    {"name": "GREETING", "value": "hello"},
    {"name": "DERIVED", "value": "$(GREETING)-derived-$(UNDEFINED_X)"},
    {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "app", "key": "token"}}},
    {"name": "FROM_FIELD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    {"name": "USES_FIELD", "value": "ns=$(FROM_FIELD)"},
    {"name": "ESCAPED", "value": "$$(GREETING)"},
    {"name": "LATER_REFERENCE", "value": "$(DEFINED_LATER)"},
    {"name": "DEFINED_LATER", "value": "late"},
    {"name": "OVERRIDES_CONFIG_MAP", "value": "from-env"},
    {"name": "OPTIONAL_MISSING", "valueFrom": {"secretKeyRef": {"name": "x", "key": "y", "optional": True}}},
    {"name": "CPU_MILLIS", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}},
    {"name": "EMPTY", "value": ""},
]
FORWARDED = {
    "BATCH_OFFLOAD_WORKER_ENV_2": SECRET_ENV_VALUE,
    "BATCH_OFFLOAD_WORKER_ENV_3": "team-a",
    "BATCH_OFFLOAD_WORKER_ENVFROM_0_CM_KEY": "from-config-map",
    "BATCH_OFFLOAD_WORKER_ENVFROM_0_OVERRIDES_CONFIG_MAP": "from-config-map",
    "BATCH_OFFLOAD_WORKER_ENVFROM_1_P_PASSWORD": "from-secret-with-prefix",
}
EXPECTED_ENV = {
    "GREETING": "hello", "DERIVED": "hello-derived-$(UNDEFINED_X)", "FROM_SECRET": SECRET_ENV_VALUE,
    "FROM_FIELD": "team-a", "USES_FIELD": "ns=team-a", "ESCAPED": "$(GREETING)",
    "LATER_REFERENCE": "$(DEFINED_LATER)", "DEFINED_LATER": "late", "OVERRIDES_CONFIG_MAP": "from-env",
    "CM_KEY": "from-config-map", "P_PASSWORD": "from-secret-with-prefix", "CPU_MILLIS": "500", "EMPTY": "",
}


def worker_spec(**container):
    spec = {"completions": 3, "parallelism": 3, "backoffLimit": 0, "completionMode": "NonIndexed",
            "container": {"name": "worker", "image": "probe:1", "env": ENV,
                          "envFrom": [{"configMapRef": {"name": "settings"}},
                                      {"prefix": "P_", "secretRef": {"name": "more"}}],
                          "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}}, **container}}
    return json.dumps(spec)


def run_kept(offloader, completions, spec, **extra):
    """Runs to success keeping the job, so the tasks and their files can be read."""
    run = offloader.start(completions, WORKERSPEC=spec, KEEPBATCHJOB="true", **FORWARDED, **extra).expect(0)
    return run, run.env["JOBID"]


def test_args_env_and_index_as_the_kubelet_would(offloader, batch):
    spec = worker_spec(args=[raw for raw, _ in AWKWARD_ARGS])
    run, job_id = run_kept(offloader, 3, spec, AGGREGATORIMAGENAME="probe:1",
                           AGGREGATORARGS=json.dumps(["aggregate", "$(GREETING) world", "", "$$(KEPT)"]))
    for index in range(3):
        report = task_report(batch, job_id, str(index))
        # no `command`: the image's ENTRYPOINT (the probe) runs with args in place of its CMD
        assert report["argv"] == [expected for _, expected in AWKWARD_ARGS]
        assert report["env"]["JOB_COMPLETION_INDEX"] == str(index)
        for name, value in EXPECTED_ENV.items():
            assert report["env"].get(name) == value, (name, report["env"].get(name))
        assert "OPTIONAL_MISSING" not in report["env"]
        assert report["env"]["IMAGE_VARIABLE"] == "from-image"
        assert report["env"]["BATCH_OFFLOAD_WORKER_COUNT"] == "3"
        assert not any(name.startswith("BATCH_OFFLOAD_WORKER_ENV") for name in report["env"])
        # the task's own working directory on the node (workingDirectory taskWorkingDirectory)
        assert report["cwd"].endswith(f"/workitems/{job_id}/job-1/{index}/wd"), report["cwd"]
    aggregator = task_report(batch, job_id, "aggregator")
    assert aggregator["argv"] == ["aggregate", "hello world", "", "$(KEPT)"]
    assert "JOB_COMPLETION_INDEX" not in aggregator["env"]
    assert aggregator["env"]["BATCH_OFFLOAD_WORKER_COUNT"] == "3"
    assert aggregator["env"]["GREETING"] == "hello"


def test_command_replaces_the_image_entrypoint(offloader, batch):
    spec = worker_spec(command=[PYTHON, str(PROBE), "from-command", "$(GREETING)"], args=["from args", "$(EMPTY)"])
    run, job_id = run_kept(offloader, 2, spec, WORKERIMAGENAME="echo-entrypoint:1")
    for index in range(2):
        report = task_report(batch, job_id, str(index))
        assert report["argv"] == ["from-command", "hello", "from args", ""]


def test_command_without_args_drops_the_image_cmd(offloader, batch):
    run, job_id = run_kept(offloader, 1, worker_spec(command=[PYTHON, str(PROBE)]))
    assert task_report(batch, job_id, "0")["argv"] == []


def test_no_command_no_args_runs_the_image_defaults(offloader, batch):
    run, job_id = run_kept(offloader, 1, worker_spec())
    assert task_report(batch, job_id, "0")["argv"] == ["image-default-cmd"]


def test_working_dir_and_limits_reach_the_container(offloader, batch, tmp_path):
    run, job_id = run_kept(offloader, 1, worker_spec(workingDir=str(tmp_path), args=["x"]))
    assert task_report(batch, job_id, "0")["cwd"] == str(tmp_path)
    options = batch.get_task(job_id, "0")["containerSettings"]["containerRunOptions"]
    assert "--workdir" in options and "--cpus 0.5" in options and "--memory 67108864" in options, options


def test_gpu_workers_run_one_task_per_node_with_the_nodes_gpus(offloader, batch):
    """A worker asking for nvidia.com/gpu: its auto pool has the GPU VM size and one task per node,
    and its tasks ask docker for no GPUs: Batch gives a container task its node's GPUs itself and
    refuses --gpus (docs/azure-facts.md section 7)."""
    spec = worker_spec(args=["x"], resources={"limits": {"nvidia.com/gpu": "1", "cpu": "2"}})
    run, job_id = run_kept(offloader, 2, spec, VMSIZE="Standard_NC6s_v3")
    pool = batch.get_job(job_id)["poolInfo"]["autoPoolSpecification"]["pool"]
    assert pool["vmSize"] == "Standard_NC6s_v3" and pool["taskSlotsPerNode"] == 1
    for task_id in ("0", "1"):
        options = batch.get_task(job_id, task_id)["containerSettings"]["containerRunOptions"]
        assert "--gpus" not in options and "--cpus 2" in options, options
    assert "each task with every GPU of its node (1 asked)" in run.stdout


def test_gpu_workers_on_shared_nodes_are_refused_before_anything_is_sent(offloader, batch):
    spec = worker_spec(args=["x"], resources={"limits": {"nvidia.com/gpu": "2"}})
    run = offloader.start(2, WORKERSPEC=spec, BATCH_OFFLOAD_TASK_SLOTS_PER_NODE="2", **FORWARDED).expect(2)
    assert ("BATCH_OFFLOAD_TASK_SLOTS_PER_NODE is 2, but the worker asks for 2 nvidia.com/gpu: Batch gives "
            "each container task every GPU of its node, so an auto pool for GPUs runs one task per node "
            "(leave it unset)") in run.stdout
    assert stats(batch)["total"] == 0


def test_without_worker_spec_runs_the_image(offloader, batch):
    run = offloader.start(2, KEEPBATCHJOB="true").expect(0)
    report = task_report(batch, run.env["JOBID"], "1")
    assert report["argv"] == ["image-default-cmd"] and report["env"]["JOB_COMPLETION_INDEX"] == "1"


def test_registry_credentials_from_the_platform(offloader, batch):
    run = offloader.start(1, KEEPBATCHJOB="true", WORKERIMAGENAME="registry.example.com/team/probe:2",
                          REGISTRYNAME="registry.example.com", REGISTRYUSERNAME="robot",
                          REGISTRYPASSWORD=REGISTRY_PASSWORD).expect(0)
    registry = batch.get_task(run.env["JOBID"], "0")["containerSettings"]["registry"]
    assert registry["registryServer"] == "registry.example.com" and registry["username"] == "robot"


def test_registry_credentials_from_an_image_pull_secret(offloader, batch):
    auth = base64.b64encode(f"puller:{PULL_SECRET_PASSWORD}".encode()).decode()
    docker_config = json.dumps({"auths": {"https://registry.example.com/v1/": {"auth": auth},
                                          "other.example.com": {"username": "u", "password": "p-other"}}})
    spec = json.dumps({"container": {"name": "w"}, "imagePullSecrets": [{"name": "pull"}]})
    run = offloader.start(1, KEEPBATCHJOB="true", WORKERIMAGENAME="registry.example.com/team/probe:2",
                          WORKERSPEC=spec, BATCH_OFFLOAD_PULL_SECRET_0=docker_config).expect(0)
    registry = batch.get_task(run.env["JOBID"], "0")["containerSettings"]["registry"]
    assert registry["registryServer"] == "registry.example.com" and registry["username"] == "puller"


def test_public_image_has_no_registry(offloader, batch):
    run = offloader.start(1, KEEPBATCHJOB="true", REGISTRYNAME="registry.example.com", REGISTRYUSERNAME="robot",
                          REGISTRYPASSWORD=REGISTRY_PASSWORD).expect(0)
    assert "registry" not in batch.get_task(run.env["JOBID"], "0")["containerSettings"]


def test_job_settings_from_the_job_fields(offloader, batch):
    spec = json.dumps({"parallelism": 2, "backoffLimit": 4, "activeDeadlineSeconds": 600,
                       "container": {"name": "w"}})
    run = offloader.start(5, KEEPBATCHJOB="true", WORKERSPEC=spec).expect(0)
    job = batch.get_job(run.env["JOBID"])
    assert job["maxParallelTasks"] == 2
    assert job["constraints"]["maxWallClockTime"] in ("PT600S", "PT10M")
    assert job["constraints"]["maxTaskRetryCount"] == 4
    assert job["usesTaskDependencies"] is True
    tasks = list_tasks(batch, run.env["JOBID"], "id,constraints")
    assert {t["id"] for t in tasks} == worker_ids(5)
    assert all(t["constraints"]["maxTaskRetryCount"] == 4 for t in tasks)


def test_indexed_job_expands_the_completion_index_per_worker(offloader, batch):
    spec = json.dumps({"completions": 3, "completionMode": "Indexed", "container": {
        "name": "w", "args": ["--shard=$(JOB_COMPLETION_INDEX)", "$(JOB_COMPLETION_INDEX)"]}})
    run, job_id = run_kept(offloader, 3, spec)
    for index in range(3):
        assert task_report(batch, job_id, str(index))["argv"] == [f"--shard={index}", str(index)]


def test_a_container_that_sets_the_completion_index_itself_keeps_it(offloader, batch):
    # the Job controller adds JOB_COMPLETION_INDEX only when the container does not set it
    spec = json.dumps({"completions": 2, "container": {
        "name": "w", "args": ["$(JOB_COMPLETION_INDEX)"], "env": [{"name": "JOB_COMPLETION_INDEX", "value": "7"}]}})
    run, job_id = run_kept(offloader, 2, spec)
    for index in range(2):
        report = task_report(batch, job_id, str(index))
        assert report["argv"] == ["7"] and report["env"]["JOB_COMPLETION_INDEX"] == "7", report
