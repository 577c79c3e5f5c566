"""Secrets never reach the offloader's output, however many there are and wherever they hide: the 80
values of a worker's envFrom Secret printed by the failing worker and relayed from its stderr.txt, a
password in the Batch account URL under --dry-run or echoed in a configuration error."""
import json

from batch_emulator.testing import PYTHON
from offloader_process import batch, offload_emulator, offloader, offloader_binary  # noqa: F401

# An envFrom Secret of 80 keys, as the kubelet resolved it in the offloader pod (source 0). The
# values are short so that all 80 lines fit the 2 KiB of stderr.txt the offloader relays.
SECRET_VALUES = {f"S{i:02d}": f"efs-value-{i:02d}x" for i in range(80)}
FORWARDED = {f"BATCH_OFFLOAD_WORKER_ENVFROM_0_{name}": value for name, value in SECRET_VALUES.items()}
# The worker prints those variables to stderr, the way `env >&2` would, and fails.
PRINT_ENVIRONMENT_AND_FAIL = ("import os, sys; [print(n + '=' + v, file=sys.stderr) for n, v in "
                              "sorted(os.environ.items()) if n[:1] == 'S' and n[1:].isdigit()]; "
                              "sys.exit(3)")


def test_every_value_of_a_big_env_from_secret_is_masked_in_the_relayed_stderr(offloader, batch):
    spec = json.dumps({"backoffLimit": 0, "container": {
        "name": "worker", "image": "probe:1", "command": [PYTHON, "-c", PRINT_ENVIRONMENT_AND_FAIL],
        "envFrom": [{"secretRef": {"name": "many-keys"}}]}})
    run = offloader.start(1, WORKERSPEC=spec, **FORWARDED).expect(1, timeout=60)
    out = run.output
    assert "end of stderr.txt of task 0:" in out, out[-3000:]
    # every line was relayed, with its value masked
    for name in SECRET_VALUES:
        assert f"| {name}=REDACTED\n" in out, (name, out[-3000:])
    printed = [value for value in SECRET_VALUES.values() if value in out]
    assert printed == [], f"{len(printed)} secret values printed:\n{out[-3000:]}"


def test_dry_run_masks_the_password_in_the_batch_account_url(offloader, batch):
    url = "https://user:url-password-never-printed@account.westeurope.batch.azure.com"
    run = offloader.start(2, args=["--dry-run"], BATCHCONNECTIONSTRING=url).expect(0, timeout=30)
    assert "url-password-never-printed" not in run.output
    assert "POST https://user:REDACTED@account.westeurope.batch.azure.com/jobs?api-version=" in run.stdout


def test_a_refused_url_is_echoed_without_its_password(offloader, batch):
    # refused (not https), and long enough that the echo is cut inside the password
    url = "ftp://user:" + "long-url-password-never-printed-" * 4 + "@account.example.com/"
    run = offloader.start(1, BATCHCONNECTIONSTRING=url).expect(2, timeout=30)
    assert "BATCHCONNECTIONSTRING is \"ftp://user:REDACTED@account.example.com/\"" in run.stdout, run.stdout
    assert "long-url-password" not in run.output
