"""offload-webhook's command line: help, version, every option also from the
environment, and clear errors with exit code 2 for bad input."""
import base64
import json
import subprocess

import pytest

from admission_fixtures import load_fixture

IMAGE = "registry.example.com/batch-offload/offloader:0.1.0"


def run(build, *args, env=None):
    return subprocess.run([str(build / "offload-webhook"), *args], capture_output=True,
                          text=True, timeout=30, env={"PATH": "/usr/bin:/bin", **(env or {})})


def test_help_lists_every_option_with_its_variable(build):
    result = run(build, "--help")
    assert result.returncode == 0
    for option, variable in [("--listen", "BATCH_OFFLOAD_LISTEN"),
                             ("--tls-cert", "BATCH_OFFLOAD_TLS_CERT"),
                             ("--offloader-image", "BATCH_OFFLOAD_OFFLOADER_IMAGE"),
                             ("--credentials-secret", "BATCH_OFFLOAD_CREDENTIALS_SECRET"),
                             ("--default-pool", "BATCH_OFFLOAD_DEFAULT_POOL"),
                             ("--allowed-pools", "BATCH_OFFLOAD_ALLOWED_POOLS"),
                             ("--max-completions", "BATCH_OFFLOAD_MAX_COMPLETIONS"),
                             ("--default-storage-container",
                              "BATCH_OFFLOAD_DEFAULT_STORAGE_CONTAINER"),
                             ("--allowed-namespaces", "BATCH_OFFLOAD_ALLOWED_NAMESPACES"),
                             ("--drain-timeout", "BATCH_OFFLOAD_DRAIN_TIMEOUT"),
                             ("--offloader-auth", "BATCH_OFFLOAD_OFFLOADER_AUTH"),
                             ("--pool-image", "BATCH_OFFLOAD_POOL_IMAGE"),
                             ("--autoscale-formula", "BATCH_OFFLOAD_AUTOSCALE_FORMULA"),
                             ("--max-nodes", "BATCH_OFFLOAD_MAX_NODES"),
                             ("--spot-fallback", "BATCH_OFFLOAD_SPOT_FALLBACK"),
                             ("--spot-fallback-seconds", "BATCH_OFFLOAD_SPOT_FALLBACK_SECONDS"),
                             ("--gpu-pool", "BATCH_OFFLOAD_GPU_POOL"),
                             ("--gpu-vm-size", "BATCH_OFFLOAD_GPU_VM_SIZE"),
                             ("--gpu-pool-image", "BATCH_OFFLOAD_GPU_POOL_IMAGE"),
                             ("--gpu-node-agent-sku", "BATCH_OFFLOAD_GPU_NODE_AGENT_SKU"),
                             ("--secret-env", "BATCH_OFFLOAD_SECRET_ENV")]:
        assert option in result.stdout and variable in result.stdout


def test_version_names_the_tls_library(build):
    result = run(build, "--version")
    assert result.returncode == 0
    assert result.stdout.startswith("offload-webhook 0.1.0 (")
    assert ("wolfSSL" in result.stdout) == ("wolfssl" in build.name)


@pytest.mark.parametrize("args,env,message", [
    (["--bogus"], {}, 'unknown option "--bogus"'),
    (["--tls-key", "k"], {}, "--tls-cert is required"),
    (["--tls-cert", "c", "--tls-key", "k"], {}, "--offloader-image is required"),
    (["--tls-cert", "c", "--tls-key", "k", "--offloader-image", "Bad Image"], {},
     "is not an image reference"),
    (["--max-completions", "0"], {}, "--max-completions: expected a whole number from 1 to"),
    (["--max-completions"], {}, "--max-completions needs a value"),
    ([], {"BATCH_OFFLOAD_MAX_COMPLETIONS": "lots"},
     'BATCH_OFFLOAD_MAX_COMPLETIONS: expected a whole number from 1 to 100000, got "lots"'),
    (["--max-completions", "100001"], {}, '--max-completions: expected a whole number from 1 to 100000, got "100001"'),
    (["--tls-cert", "c", "--tls-key", "k", "--offloader-image", IMAGE, "--allowed-pools",
      "ok,bad pool"], {}, '--allowed-pools: "bad pool" is not a Batch pool ID'),
    (["--tls-cert", "c", "--tls-key", "k", "--offloader-image", IMAGE, "--default-pool", "a",
      "--allowed-pools", "b,c"], {}, '--default-pool "a" is not in --allowed-pools'),
    (["--tls-cert", "c", "--tls-key", "k", "--offloader-image", IMAGE,
      "--default-storage-container", "UPPER"], {}, "is not a Blob container name"),
    (["--tls-cert", "c", "--tls-key", "k", "--offloader-image", IMAGE,
      "--allowed-namespaces", "Bad_NS"], {}, '"Bad_NS" is not a namespace'),
    (["--workload-identity=maybe"], {}, "expected true or false"),
    (["--tls-cert", "c", "--tls-key", "k", "--offloader-image", IMAGE, "--offloader-auth",
      "password"], {}, "--offloader-auth: expected shared-key, workload-identity"),
    (["--tls-cert", "c", "--tls-key", "k", "--offloader-image", IMAGE, "--pool-image",
      "ubuntu"], {}, "--pool-image: expected publisher:offer:sku:version"),
    (["--tls-cert", "c", "--tls-key", "k", "--offloader-image", IMAGE, "--node-fill-type",
      "random"], {}, "--node-fill-type: expected spread or pack"),
    (["--tls-cert", "c", "--tls-key", "k", "--offloader-image", IMAGE, "--spot-fallback",
      "low-priority"], {}, '--spot-fallback: expected "wait" or "dedicated", got "low-priority"'),
    (["--spot-fallback-seconds", "-5"], {}, "--spot-fallback-seconds: expected a whole number from 0 to"),
    (["--tls-cert", "c", "--tls-key", "k", "--offloader-image", IMAGE, "--gpu-pool", "gpu pool"], {},
     '--gpu-pool: "gpu pool" is not a Batch pool ID'),
    (["--tls-cert", "c", "--tls-key", "k", "--offloader-image", IMAGE, "--gpu-pool", "gpus",
      "--allowed-pools", "a,b"], {}, '--gpu-pool "gpus" is not in --allowed-pools'),
    (["--tls-cert", "c", "--tls-key", "k", "--offloader-image", IMAGE, "--gpu-vm-size", "NC 6"], {},
     '--gpu-vm-size: "NC 6" is not a VM size'),
    (["--tls-cert", "c", "--tls-key", "k", "--offloader-image", IMAGE, "--gpu-pool-image", "ubuntu-hpc"],
     {}, "--gpu-pool-image: expected publisher:offer:sku:version"),
    (["--tls-cert", "c", "--tls-key", "k", "--offloader-image", IMAGE, "--secret-env", "allow"], {},
     "--secret-env: expected warn or deny"),
    (["--tls-cert", "c", "--tls-key", "k", "--offloader-image", IMAGE, "--log-level", "loud"],
     {}, "--log-level: expected debug, info, warn or error"),
])
def test_bad_options_exit_2_with_a_message(build, args, env, message):
    result = run(build, *args, env=env)
    assert result.returncode == 2
    assert message in result.stderr, result.stderr


def test_environment_configures_and_flags_win(start_webhook):
    webhook = start_webhook("--default-storage-container", "from-flag",
                            env={"BATCH_OFFLOAD_DEFAULT_POOL": "env-pool",
                                 "BATCH_OFFLOAD_DEFAULT_STORAGE_CONTAINER": "from-env",
                                 "BATCH_OFFLOAD_CREDENTIALS_SECRET": "team-batch-creds"})
    response = webhook.review(load_fixture("kubectl-job"))["response"]
    patch = json.loads(base64.b64decode(response["patch"]))
    pod = next(op["value"] for op in patch if op["path"] == "/spec/template/spec")
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["POOLID"]["value"] == "env-pool"
    assert env["CONTAINER"]["value"] == "from-flag"
    assert pod["containers"][0]["envFrom"][0]["secretRef"]["name"] == "team-batch-creds"
