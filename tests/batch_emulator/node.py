# A compute node of the emulated pool: runs one task attempt at a time as a local process, the way
# the Batch node agent does on Linux:
#   <root>/workitems/<jobId>/job-1/<taskId>/            AZ_BATCH_TASK_DIR (stdout.txt, stderr.txt)
#   <root>/workitems/<jobId>/job-1/<taskId>/wd/         AZ_BATCH_TASK_WORKING_DIR (resource files, cwd)
# The command line runs without a shell (POSIX shlex split, no expansion: spec, commandLine), with
# the job's commonEnvironmentSettings, the task's environmentSettings and the AZ_BATCH_* variables
# (learn.microsoft.com/azure/batch/batch-compute-node-environment-variables). Container tasks go
# through the image map (container_images.py). After the process exits, output files are uploaded.
import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass

from container_images import DEFAULT_PATH, ContainerSettingsError, container_launch, requested_gpus
from output_files import upload_output_files
from resource_files import download_resource_files
from task_failure import PreProcessingError


@dataclass(frozen=True)
class AttemptPlan:
    """Everything a node needs to run one attempt of a task, taken from the account under its lock."""
    account_name: str
    account_url: str
    job_id: str
    task_id: str
    pool_id: str
    task_dir: str
    previous_task_dir: str
    command_line: str
    container_settings: dict
    pool_has_container_configuration: bool
    pool_gpus: int               # GPUs of the pool's VM size; None when the size is not one the account offers
    environment: list            # (name, value): job settings first, then the task's
    resource_files: list
    output_files: list
    wall_clock_seconds: float


@dataclass(frozen=True)
class AttemptOutcome:
    exit_code: int = None            # None when the process never ran
    failure_info: dict = None        # set for pre-processing and file upload errors
    failure_kind: str = None         # "preprocessing" | "upload"
    cancel_reason: str = None        # "ended" | "wallclock" | "preempted" | "requeued" | "deleted"
    container_info: dict = None


class Attempt:
    """A running attempt that other threads may cancel; cancelling kills its process group."""

    def __init__(self):
        self._lock = threading.Lock()
        self._process = None
        self.cancel_reason = None

    def cancel(self, reason):
        with self._lock:
            self.cancel_reason = self.cancel_reason or reason
            process = self._process
        if process is not None:
            _kill_group(process)

    def attach(self, process):
        with self._lock:
            self._process = process
            cancelled = self.cancel_reason is not None
        if cancelled:
            _kill_group(process)


def _kill_group(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _exit_code(returncode):
    return 128 - returncode if returncode < 0 else returncode     # killed by signal N: 128 + N


def _check_gpus(run_options, pool_gpus):
    """Docker on a node fails to create a container asking for more GPUs than the VM has. Choice: reported
    as ContainerMiscError with docker's message; the service's code for it is not documented."""
    try:
        wanted = requested_gpus(run_options)
    except ValueError as problem:
        raise PreProcessingError("ContainerInvalidSettings", "At least one value of specified task container "
                                 "settings is invalid", [("Message", str(problem))]) from None
    if wanted is None or pool_gpus is None or pool_gpus >= max(wanted, 1):
        return
    raise PreProcessingError("ContainerMiscError", "There was an unknown error encountered while attempting to "
                             "run a Task in a container",
                             [("Message", 'docker: Error response from daemon: could not select device driver "" '
                                          f'with capabilities: [[gpu]] (the VM size has {pool_gpus} GPUs).')])


class Node:
    def __init__(self, node_id, root_dir, image_map):
        self.node_id = node_id
        self.root_dir = os.path.abspath(root_dir)
        self.image_map = image_map
        for directory in ("shared", "startup", "workitems", "home"):
            os.makedirs(os.path.join(self.root_dir, directory), exist_ok=True)

    def task_dir(self, job_id, task_id):
        return os.path.join(self.root_dir, "workitems", job_id, "job-1", task_id)

    def job_dir(self, job_id):
        return os.path.join(self.root_dir, "workitems", job_id)

    def _environment(self, plan, working_dir):
        batch = {"AZ_BATCH_ACCOUNT_NAME": plan.account_name, "AZ_BATCH_ACCOUNT_URL": plan.account_url,
                 "AZ_BATCH_POOL_ID": plan.pool_id, "AZ_BATCH_NODE_ID": self.node_id,
                 "AZ_BATCH_NODE_IS_DEDICATED": "true", "AZ_BATCH_NODE_ROOT_DIR": self.root_dir,
                 "AZ_BATCH_NODE_SHARED_DIR": os.path.join(self.root_dir, "shared"),
                 "AZ_BATCH_NODE_STARTUP_DIR": os.path.join(self.root_dir, "startup"),
                 "AZ_BATCH_JOB_ID": plan.job_id, "AZ_BATCH_TASK_ID": plan.task_id,
                 "AZ_BATCH_TASK_DIR": plan.task_dir, "AZ_BATCH_TASK_WORKING_DIR": working_dir,
                 "AZ_BATCH_CERTIFICATES_DIR": os.path.join(plan.task_dir, "certs"),
                 "AZ_BATCH_TASK_USER": "_azbatch", "AZ_BATCH_TASK_USER_IDENTITY": "PoolNonAdmin"}
        return {**dict(plan.environment), **batch}

    def _launch(self, plan, working_dir, task_env):
        """(argv, cwd, env, containerInfo) for the attempt; raises PreProcessingError."""
        settings = plan.container_settings
        if (settings is not None) != plan.pool_has_container_configuration:
            raise PreProcessingError("ContainerInvalidSettings", "At least one value of specified task container "
                                     "settings is invalid", [("Message", "containerSettings must be set exactly "
                                                                         "when the pool has containerConfiguration")])
        if settings is None:
            try:
                argv = shlex.split(plan.command_line)
            except ValueError as problem:           # unbalanced quotes
                raise PreProcessingError("CommandLaunchFailed", "The command line could not be parsed",
                                         [("Message", str(problem))]) from None
            if not argv:
                raise PreProcessingError("CommandProgramNotFound", "The command line is empty")
            base = {"PATH": DEFAULT_PATH, "HOME": os.path.join(self.root_dir, "home")}
            return argv, working_dir, {**base, **task_env}, None
        image = self.image_map.find(settings["imageName"])
        if image is None:
            raise PreProcessingError("ContainerInvalidImage", "One or more container images specified are invalid",
                                     [("ContainerImage", settings["imageName"]),
                                      ("Message", "the emulator's image map has no entry for this image")])
        _check_gpus(settings.get("containerRunOptions"), plan.pool_gpus)
        try:
            launch = container_launch(image, plan.command_line, settings.get("containerRunOptions"),
                                      settings.get("workingDirectory", "taskWorkingDirectory"), working_dir, task_env)
        except (ContainerSettingsError, ValueError) as problem:
            raise PreProcessingError("ContainerInvalidSettings", "At least one value of specified task container "
                                     "settings is invalid", [("Message", str(problem))]) from None
        if launch.cwd != working_dir and not os.path.isdir(launch.cwd):
            raise PreProcessingError("ContainerInvalidSettings", "At least one value of specified task container "
                                     "settings is invalid", [("Message", f"working directory {launch.cwd} "
                                                                         f"does not exist on this node")])
        return launch.argv, launch.cwd, launch.env, {"containerId": uuid.uuid4().hex, "state": "exited"}

    def run(self, plan, attempt):
        # maxWallClockTime counts from the task's start, resource file downloads included (spec).
        deadline = None if plan.wall_clock_seconds is None else time.monotonic() + plan.wall_clock_seconds
        if plan.previous_task_dir:
            shutil.rmtree(plan.previous_task_dir, ignore_errors=True)
        working_dir = os.path.join(plan.task_dir, "wd")
        try:
            os.makedirs(working_dir)
        except FileExistsError:             # an earlier attempt ran on this node: start afresh
            shutil.rmtree(plan.task_dir)
            os.makedirs(working_dir)
        try:
            download_resource_files(plan.resource_files, working_dir, lambda: attempt.cancel_reason is not None)
            argv, cwd, env, container_info = self._launch(plan, working_dir, self._environment(plan, working_dir))
            if attempt.cancel_reason is not None:
                return AttemptOutcome(cancel_reason=attempt.cancel_reason)
            exit_code = self._execute(argv, cwd, env, plan.task_dir, deadline, attempt)
        except PreProcessingError as failure:
            return AttemptOutcome(failure_info=failure.failure_info, failure_kind="preprocessing",
                                  cancel_reason=attempt.cancel_reason)
        if attempt.cancel_reason in ("preempted", "requeued", "deleted"):
            return AttemptOutcome(exit_code=exit_code, cancel_reason=attempt.cancel_reason,
                                  container_info=container_info)
        upload_failure = upload_output_files(plan.output_files, plan.task_dir, working_dir, env, exit_code)
        return AttemptOutcome(exit_code=exit_code, failure_info=upload_failure,
                              failure_kind="upload" if upload_failure else None,
                              cancel_reason=attempt.cancel_reason, container_info=container_info)

    @staticmethod
    def _execute(argv, cwd, env, task_dir, deadline, attempt):
        """Runs the process to its end (or its wall clock deadline) and returns its exit code."""
        with open(os.path.join(task_dir, "stdout.txt"), "wb") as stdout, \
                open(os.path.join(task_dir, "stderr.txt"), "wb") as stderr:
            try:
                process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=stdout,
                                           stderr=stderr, start_new_session=True)
            except (FileNotFoundError, NotADirectoryError) as problem:
                raise PreProcessingError("CommandProgramNotFound", "The specified command program is not found",
                                         [("Message", str(problem))]) from None
            except OSError as problem:
                raise PreProcessingError("CommandLaunchFailed", "The task command could not be launched",
                                         [("Message", str(problem))]) from None
        attempt.attach(process)
        try:
            returncode = process.wait(timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            attempt.cancel("wallclock")
            returncode = process.wait()
        _kill_group(process)        # like the node, leave nothing of the task running
        return _exit_code(returncode)
