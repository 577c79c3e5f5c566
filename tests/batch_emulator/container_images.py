# Container tasks without a container engine. The image map (--image-map) names, for each image, the
# local program that stands in for it:
#   {"images": {"wordcount:1": {"entrypoint": ["/usr/bin/python3", "/path/x.py"], "cmd": ["--default"],
#                               "workdir": "/optional", "env": {"OPTIONAL": "value"}}}}
# An image is found by its exact name, then (untagged names) name + ":latest", then (tagged names)
# the name without its tag. The process is put together as `docker create` would: the task command line
# replaces the image's CMD, not its ENTRYPOINT; containerRunOptions may carry --entrypoint X (replaces
# ENTRYPOINT and clears CMD), -w/--workdir DIR and -e/--env NAME=VALUE; other docker options are
# accepted and have no effect. The working directory is the task's (workingDirectory
# taskWorkingDirectory, the default) or the image's (containerImageDefault).
import json
import shlex
from dataclasses import dataclass

# docker create options that take a value, so the value is not mistaken for the image or command.
_OPTIONS_WITH_VALUE = {
    "--entrypoint", "-w", "--workdir", "-e", "--env", "--env-file", "-u", "--user", "-v", "--volume",
    "--mount", "--name", "--network", "--net", "-m", "--memory", "--memory-swap", "--cpus", "-c",
    "--cpu-shares", "--shm-size", "--ulimit", "-l", "--label", "--gpus", "--ipc", "--pid", "--cap-add",
    "--cap-drop", "--security-opt", "--tmpfs", "-h", "--hostname", "--add-host", "--device", "--runtime",
    "--platform", "--restart", "--log-driver", "--log-opt", "--stop-signal", "--stop-timeout", "--pull",
    "--dns", "--isolation"}
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ContainerSettingsError(Exception):
    """containerRunOptions or the image cannot make a command (a node reports ContainerInvalidSettings)."""


@dataclass(frozen=True)
class Image:
    entrypoint: tuple
    cmd: tuple
    workdir: str
    env: dict


@dataclass(frozen=True)
class ContainerLaunch:
    argv: list
    cwd: str
    env: dict


class ImageMap:
    def __init__(self, images):
        self.images = images

    @classmethod
    def load(cls, path):
        if path is None:
            return cls({})
        with open(path, encoding="utf-8") as image_map_file:
            entries = json.load(image_map_file)["images"]
        return cls({name: Image(tuple(entry.get("entrypoint", ())), tuple(entry.get("cmd", ())),
                                entry.get("workdir", "/"), {"PATH": DEFAULT_PATH, **entry.get("env", {})})
                    for name, entry in entries.items()})

    def find(self, image_name):
        for candidate in _candidate_names(image_name):
            if candidate in self.images:
                return self.images[candidate]
        return None


def _candidate_names(image_name):
    yield image_name
    repository = image_name.split("@", 1)[0]
    last_segment = repository.rsplit("/", 1)[-1]
    if ":" in last_segment:
        yield repository[:repository.rindex(":")]
    else:
        yield repository + ":latest"


def requested_gpus(run_options):
    """How many GPUs containerRunOptions' --gpus asks for: None without --gpus, 0 for "all" (every GPU, at
    least one), else the count ("2", "count=2", "device=0,1"; docker run reference); raises ValueError."""
    tokens = shlex.split(run_options or "")
    values = [token.split("=", 1)[1] for token in tokens if token.startswith("--gpus=")]
    values += [tokens[i + 1] for i, token in enumerate(tokens[:-1]) if token == "--gpus"]
    if not values:
        return None
    value = values[-1].strip('"')
    if value == "all" or value == "count=all":
        return 0
    for prefix in ("count=", ""):
        if value.startswith(prefix) and value[len(prefix):].isdigit():
            return int(value[len(prefix):])
    if value.startswith("device="):
        return len(value[len("device="):].split(","))
    raise ValueError(f"containerRunOptions: --gpus {value} is not all, a count or device=...")


def container_launch(image, command_line, run_options, working_directory_setting, task_working_dir, batch_env):
    entrypoint, cmd, workdir, option_env = list(image.entrypoint), list(image.cmd), None, {}
    tokens = shlex.split(run_options or "")
    position = 0
    while position < len(tokens):
        token = tokens[position]
        if token.startswith("--") and "=" in token:
            name, value = token.split("=", 1)
            position += 1
        elif token in _OPTIONS_WITH_VALUE:
            if position + 1 == len(tokens):
                raise ContainerSettingsError(f"containerRunOptions: {token} needs a value")
            name, value = token, tokens[position + 1]
            position += 2
        elif token.startswith("-"):
            position += 1
            continue
        else:
            raise ContainerSettingsError(f"containerRunOptions: unexpected argument '{token}'")
        if name == "--entrypoint":
            entrypoint, cmd = ([value] if value else []), []
        elif name in ("-w", "--workdir"):
            workdir = value
        elif name in ("-e", "--env") and "=" in value:
            key, _, env_value = value.partition("=")
            option_env[key] = env_value
    arguments = shlex.split(command_line)
    argv = entrypoint + (arguments if arguments else cmd)
    if not argv:
        raise ContainerSettingsError("neither the image, containerRunOptions nor the command line gives a command")
    if workdir is None:
        workdir = image.workdir if working_directory_setting == "containerImageDefault" else task_working_dir
    return ContainerLaunch(argv, workdir, {**image.env, **batch_env, **option_env})
