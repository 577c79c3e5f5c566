"""A WORKERSPEC that is JSON of the wrong shape stops the real binary with exit 2 and a line naming
the field, before anything is sent (it used to be read as if the field were absent)."""
import json

import pytest

from offloader_process import batch, offload_emulator, offloader, offloader_binary, stats  # noqa: F401

WRONG_SHAPES = [
    ({"backoffLimit": 1}, "WORKERSPEC: container is missing"),
    ({"container": {"name": "worker", "env": "x"}}, "WORKERSPEC: container.env must be an array"),
    ({"container": {"env": [{"name": "A", "valueFrom": "secret"}]}},
     "WORKERSPEC: container.env[0].valueFrom must be an object"),
    ({"container": {"resources": {"limits": {"memory": 64}}}},
     "WORKERSPEC: container.resources.limits.memory must be a string"),
]


@pytest.mark.parametrize("spec, message", WRONG_SHAPES, ids=[m.split(": ", 1)[1] for _, m in WRONG_SHAPES])
def test_wrong_shape_exits_2_naming_the_field(offloader, batch, spec, message):
    run = offloader.start(2, WORKERSPEC=json.dumps(spec)).expect(2, timeout=30)
    assert f"batch-offloader: error: {message}\n" in run.stdout, run.stdout
    assert "nothing was sent to Azure Batch" in run.stdout
    assert stats(batch)["total"] == 0
