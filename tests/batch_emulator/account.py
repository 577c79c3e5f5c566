# The emulated Batch account: its pools, jobs and tasks, and the rules the service applies to them
# (ids, existence, states, retries, dependencies, exit conditions, job completion). Everything here
# runs under one lock, account.changed; the scheduler waits on it for work. Nothing here starts
# processes: the scheduler hands AttemptPlans to nodes and brings back AttemptOutcomes.
#
# Choices where the service's behaviour is not documented are marked "Choice:" and listed in README.md.
import re
import threading
import time
import uuid

from account_offer import RESIZE_ERROR, UNSUPPORTED_VM_SIZE_ERROR, AccountOffer, spot_resize_errors
from errors import BatchError, invalid_property
from node import AttemptPlan
from resources import Job, Pool, Task
from task_failure import failure_info
from wire_format import parse_duration

# Task and job ids: "any combination of alphanumeric characters including hyphens and underscores,
# and cannot contain more than 64 characters", case-insensitive (spec, BatchTaskCreateOptions.id).
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# The states in which a job has not ended: its tasks may be retried, it may be terminated.
_LIVE_JOB_STATES = ("active", "disabling", "disabled", "enabling")
_CANONICAL_INTEGER = re.compile(r"^-?(?:0|[1-9][0-9]*)$")
MAX_DEPENDENCY_LIST_CHARS = 64000        # spec, BatchTaskDependencies.taskIds
MAX_AUTO_POOL_PREFIX = 20                # spec, BatchAutoPoolSpecification.autoPoolIdPrefix
# A deleted pool stays "deleting" at least this long (the service resizes it to zero first), so that
# clients can see that state; then it is gone once none of its tasks runs.
POOL_DELETION_SECONDS = 0.5
AUTOSCALE_ENABLE_SECONDS = 30            # spec, Pools_EnablePoolAutoScale: "not ... more than once every 30 seconds"
_MIN_EVALUATION_SECONDS, _MAX_EVALUATION_SECONDS = 5 * 60, 168 * 3600   # spec, autoScaleEvaluationInterval
# Properties the emulator cannot honour; refused with 501 NotImplemented rather than ignored.
UNSUPPORTED_JOB_PROPERTIES = ("jobManagerTask", "jobPreparationTask", "jobReleaseTask")
UNSUPPORTED_TASK_PROPERTIES = ("multiInstanceSettings", "applicationPackageReferences",
                               "authenticationTokenSettings")


def not_implemented(what):
    return BatchError(501, "NotImplemented", [("PropertyName", what)],
                      message=f"The Batch emulator does not implement '{what}'.")


def _check_id(value, kind):
    if not _ID.match(value):
        raise invalid_property("id", value, f"The {kind} id must be 1 to 64 characters: letters, digits, "
                                            f"hyphens and underscores.")


def _integer_id(task_key):
    return int(task_key) if _CANONICAL_INTEGER.match(task_key) else None


def _merge_ranges(ranges):
    merged = []
    for start, end in sorted((r["start"], r["end"]) for r in ranges):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _exit_options(task, exit_code, failure_kind):
    """The ExitOptions that apply to a completed task (spec, ExitConditions), or {}."""
    conditions = task.spec.get("exitConditions", {})
    if exit_code is not None and failure_kind != "preprocessing":
        for mapping in conditions.get("exitCodes", []):
            if mapping["code"] == exit_code:
                return mapping["exitOptions"]
        for mapping in conditions.get("exitCodeRanges", []):
            if mapping["start"] <= exit_code <= mapping["end"]:
                return mapping["exitOptions"]
    if failure_kind == "preprocessing" and "preProcessingError" in conditions:
        return conditions["preProcessingError"]
    if failure_kind == "upload" and "fileUploadError" in conditions:
        return conditions["fileUploadError"]
    if failure_kind is not None or exit_code not in (None, 0):
        return conditions.get("default", {})
    return {}


class Account:
    def __init__(self, name, service_url):
        self.name = name
        self.service_url = service_url
        self.changed = threading.Condition()
        self.pools = {}
        self.jobs = {}
        self.pool_resize_errors = []    # set: no pool gets nodes (control_api.py pool-capacity)
        self.offer = AccountOffer()     # sizes, images, allocation mode, Spot (control_api.py account)

    # ----- lookups (lock held by the caller) -----

    def job(self, job_id):
        job = self.jobs.get(job_id.casefold())
        if job is None:
            raise BatchError(404, "JobNotFound")
        return job

    def task(self, job_id, task_id):
        task = self.job(job_id).tasks.get(task_id.casefold())
        if task is None:
            raise BatchError(404, "TaskNotFound")
        return task

    def pool(self, pool_id):
        pool = self.pools.get(pool_id.casefold())
        if pool is None:
            raise BatchError(404, "PoolNotFound")
        return pool

    # ----- pools -----

    def create_pool(self, spec):
        _check_id(spec["id"], "pool")
        existing = self.pools.get(spec["id"].casefold())
        if existing is not None:
            # Choice: a pool id still being deleted is refused with PoolBeingDeleted, not PoolExists.
            raise BatchError(409, "PoolBeingDeleted" if existing.state == "deleting" else "PoolExists")
        for unsupported in ("startTask", "mountConfiguration"):
            if unsupported in spec:
                raise not_implemented(unsupported)
        size_errors = self._check_pool_offer(spec, "")
        pool = Pool(spec, time.time())
        pool.size_errors = size_errors
        self._update_capacity(pool)
        self.pools[pool.key] = pool
        self.changed.notify_all()
        return pool

    def _check_pool_offer(self, spec, where):
        """Refuses a pool of a VM size or Marketplace image the account does not offer, as the service does
        at Pools_CreatePool: 400 InvalidPropertyValue (docs/azure-facts.md section 7). Custom images
        (virtualMachineImageId) are not checked. The Reason texts are the emulator's. Returns the resize
        errors the pool starts with: an unoffered size when the offer says it shows as one (RESIZE_ERROR)."""
        size_errors = []
        if self.offer.vm_size(spec.get("vmSize", "")) is None:
            if self.offer.unoffered_vm_size != RESIZE_ERROR:
                raise invalid_property("vmSize", spec.get("vmSize", ""), f"{where}The VM size is not offered to this "
                                                                         f"account in this region.")
            size_errors = [dict(UNSUPPORTED_VM_SIZE_ERROR)]
        configuration = spec.get("virtualMachineConfiguration")
        reference = (configuration or {}).get("imageReference", {})
        if configuration is None or "virtualMachineImageId" in reference or "publisher" not in reference:
            return size_errors
        image = self.offer.image_for(reference)
        if image is None:
            described = ":".join(str(reference.get(part, "")) for part in ("publisher", "offer", "sku"))
            raise invalid_property("imageReference", described, f"{where}The image is not supported by Batch.")
        if image["nodeAgentSKUId"].casefold() != configuration["nodeAgentSKUId"].casefold():
            raise invalid_property("nodeAgentSKUId", configuration["nodeAgentSKUId"],
                                   f"{where}The image needs node agent SKU '{image['nodeAgentSKUId']}'.")
        return size_errors

    def _update_capacity(self, pool):
        spot_errors = spot_resize_errors(self.offer) if pool.asks_for("TargetLowPriorityNodes") else []
        pool.set_capacity(list(self.pool_resize_errors), spot_errors, time.time())

    def delete_pool(self, pool_id):
        """Spec, Pools_DeletePool: the pool is deleting at once, "any Tasks running on existing Compute Nodes
        are terminated and requeued (as if a resize Pool operation had been requested with the default requeue
        option); finally, the Pool is removed". Requeued so counts as a user request (requeueCount, spec). Its
        jobs stay, their tasks waiting for a pool of that id. "If you call an Update, Patch or Delete API on a
        Pool in the deleting state, it will fail with HTTP status code 409 with error code PoolBeingDeleted." """
        pool = self.pool(pool_id)
        self._require_pool_not_deleting(pool)
        now = time.time()
        pool.move_to("deleting", now)
        pool.deletable_at = now + POOL_DELETION_SECONDS
        for job in self.jobs.values():
            if job.pool_id.casefold() == pool.key:
                for task in job.running_tasks:
                    task.attempt.cancel("requeued")
        self.changed.notify_all()

    def remove_deleted_pools(self):
        """Forgets pools whose deletion has finished: past their deletion time, none of their tasks running."""
        now = time.time()
        running = {job.pool_id.casefold() for job in self.jobs.values() if job.running_tasks}
        for pool in [p for p in self.pools.values() if p.state == "deleting"]:
            if now >= pool.deletable_at and pool.key not in running:
                del self.pools[pool.key]
                self.changed.notify_all()

    @staticmethod
    def _require_pool_not_deleting(pool):
        if pool.state == "deleting":
            raise BatchError(409, "PoolBeingDeleted")

    def enable_pool_autoscale(self, pool_id, options):
        """Spec, Pools_EnablePoolAutoScale: "If automatic scaling of the Pool is currently disabled, you must
        specify a valid autoscale formula ... If automatic scaling of the Pool is already enabled, you may specify
        a new autoscale formula and/or a new evaluation interval. You cannot call this API for the same Pool more
        than once every 30 seconds" (code AutoScaleTooManyRequestsToEnable, Microsoft.Azure.Batch
        BatchErrorCodeStrings; choice: status 409). The interval must be 5 minutes to 168 hours (400
        InvalidPropertyValue). Formulas are not evaluated: the pool's node kinds follow the targets it assigns."""
        pool = self.pool(pool_id)
        self._require_pool_not_deleting(pool)
        now = time.time()
        if pool.autoscale_enabled_at is not None and now - pool.autoscale_enabled_at < AUTOSCALE_ENABLE_SECONDS:
            raise BatchError(409, "AutoScaleTooManyRequestsToEnable")
        formula = options.get("autoScaleFormula", pool.spec.get("autoScaleFormula") if
                              pool.spec.get("enableAutoScale", False) else None)
        if formula is None:
            raise BatchError(400, "MissingRequiredProperty", [("PropertyName", "autoScaleFormula")])
        interval = options.get("autoScaleEvaluationInterval")
        if interval is not None and not _MIN_EVALUATION_SECONDS <= parse_duration(interval) <= _MAX_EVALUATION_SECONDS:
            raise invalid_property("autoScaleEvaluationInterval", interval,
                                   "The interval must be from 5 minutes to 168 hours.")
        changes = {"enableAutoScale": True, "autoScaleFormula": formula}
        if interval is not None:
            changes["autoScaleEvaluationInterval"] = interval
        for fixed in ("targetDedicatedNodes", "targetLowPriorityNodes"):   # an autoscaled pool has no fixed targets
            pool.spec.pop(fixed, None)
        pool.spec = {**pool.spec, **changes}
        pool.autoscale_enabled_at = now
        pool.touch(now)
        self._update_capacity(pool)
        self.changed.notify_all()
        return pool

    def set_offer(self, offer):
        """What the account offers from now on; pools that exist keep their sizes and images."""
        self.offer = offer
        for pool in self.pools.values():
            self._update_capacity(pool)
        self.changed.notify_all()

    # ----- jobs -----

    def create_job(self, spec):
        _check_id(spec["id"], "job")
        if spec["id"].casefold() in self.jobs:
            raise BatchError(409, "JobExists")
        for unsupported in UNSUPPORTED_JOB_PROPERTIES:
            if unsupported in spec:
                raise not_implemented(unsupported)
        _check_job_settings(spec)
        pool_info = spec["poolInfo"]
        if ("poolId" in pool_info) == ("autoPoolSpecification" in pool_info):
            raise invalid_property("poolInfo", pool_info,
                                   "Specify either poolId or autoPoolSpecification, but not both.")
        now = time.time()
        auto_pool = None
        if "autoPoolSpecification" in pool_info:
            auto = pool_info["autoPoolSpecification"]
            prefix = auto.get("autoPoolIdPrefix", "")
            if len(prefix) > MAX_AUTO_POOL_PREFIX:
                raise invalid_property("autoPoolIdPrefix", prefix, "The prefix can be up to 20 characters long.")
            auto_pool_id = f"{prefix}_{uuid.uuid4()}" if prefix else str(uuid.uuid4()).upper()
            auto_pool = Pool({**auto.get("pool", {}), "id": auto_pool_id}, now, owner_job_key=spec["id"].casefold())
            pool_id = auto_pool_id
        else:
            pool_id = pool_info["poolId"]
        job = Job(spec, pool_id, now)
        self.jobs[job.key] = job
        if auto_pool is not None:
            self._create_auto_pool(job, auto_pool, now)
        # Spec, onAllTasksComplete: "if a Job contains no Tasks, then all Tasks are considered complete".
        self._complete_if_all_tasks_done(job)
        self.changed.notify_all()
        return job

    def _create_auto_pool(self, job, pool, now):
        """Spec, autoPoolSpecification: "If auto Pool creation fails, the Batch service moves the Job to a
        completed state, and the Pool creation error is set in the Job's scheduling error property."
        Code: InvalidAutoPoolSettings (Batch status and error codes, job scheduling errors)."""
        try:
            pool.size_errors = self._check_pool_offer(pool.spec, "autoPoolSpecification.pool: ")
        except BatchError as refused:
            job.scheduling_error = {"category": "usererror", "code": "InvalidAutoPoolSettings",
                                    "message": "The specified autopool settings are not valid.",
                                    "details": [{"name": key, "value": value} for key, value in refused.values]}
            job.end_time = now
            job.move_to("completed", now)
            return
        self._update_capacity(pool)
        self.pools[pool.key] = pool

    def update_job(self, job_id, changes):
        job = self.job(job_id)
        self._require_changeable(job)
        if "poolInfo" in changes:
            raise not_implemented("poolInfo (update)")
        _check_job_settings(changes)
        now = time.time()
        job.spec = {**job.spec, **changes}
        if "constraints" in changes:
            wall_clock = changes["constraints"].get("maxWallClockTime")
            job.deadline = None if wall_clock is None else job.creation_time + parse_duration(wall_clock)
        job.touch(now)
        self._complete_if_all_tasks_done(job)
        self.changed.notify_all()
        return job

    def terminate_job(self, job_id, reason):
        job = self.job(job_id)
        self._require_changeable(job)
        self._terminate(job, reason, time.time())
        self.changed.notify_all()
        return job

    def disable_job(self, job_id, disable_tasks):
        """Spec, Jobs_DisableJob: the job moves to disabling at once; running tasks are requeued, ended or
        left to finish (disableTasks requeue | terminate | wait); it is disabled once none runs (see
        settle_jobs). "If you try to disable a Job that is in any state other than active, disabling, or
        disabled, the request fails with status code 409"; disabling or disabled: accepted, no change."""
        job = self.job(job_id)
        self._require_changeable(job)
        if job.state == "enabling":
            raise BatchError(409, "JobNotActive")
        if job.state == "active":
            self._disable(job, disable_tasks, time.time())
            self.changed.notify_all()
        return job

    def _disable(self, job, disable_tasks, now):
        job.disable_option = disable_tasks
        job.move_to("disabling", now)
        if disable_tasks != "wait":
            for task in job.running_tasks:
                task.attempt.cancel("requeued" if disable_tasks == "requeue" else "ended")

    def enable_job(self, job_id):
        """Spec, Jobs_EnableJob: "sets a disabled Job to the enabling state. After the this operation is
        completed, the Job moves to the active state". Choice: enabling a job that is not disabled is
        refused with 409 OperationInvalidForCurrentState (the code is not documented)."""
        job = self.job(job_id)
        self._require_changeable(job)
        if job.state != "disabled":
            raise BatchError(409, "OperationInvalidForCurrentState")
        job.move_to("enabling", time.time())
        self.changed.notify_all()
        return job

    def settle_jobs(self):
        """Finishes what disable and enable started, a moment later as the service does: disabling ->
        disabled once no task of the job runs, enabling -> active."""
        now = time.time()
        for job in self.jobs.values():
            if job.state == "disabling" and not job.running_tasks:
                job.disable_option = None
                job.move_to("disabled", now)
            elif job.state == "enabling":
                job.move_to("active", now)
                self._complete_if_all_tasks_done(job)
            else:
                continue
            self.changed.notify_all()

    def delete_job(self, job_id):
        job = self.job(job_id)
        if job.state == "deleting":
            raise BatchError(409, "JobBeingDeleted")
        job.move_to("deleting", time.time())
        for task in job.running_tasks:
            task.attempt.cancel("deleted")
        self.changed.notify_all()

    def _require_changeable(self, job):
        if job.state == "completed":
            raise BatchError(409, "JobCompleted")
        if job.state == "terminating":
            raise BatchError(409, "JobBeingTerminated")
        if job.state == "deleting":
            raise BatchError(409, "JobBeingDeleted")

    def _terminate(self, job, reason, now):
        if job.state not in _LIVE_JOB_STATES:
            return
        job.terminate_reason = reason
        job.move_to("terminating", now)
        for task in job.running_tasks:
            task.attempt.cancel("ended")
        if not job.running_tasks:
            self._finish_termination(job, now)

    def _finish_termination(self, job, now):
        job.end_time = now
        job.move_to("completed", now)
        self._release_auto_pool(job)

    def _release_auto_pool(self, job):
        pool = self.pools.get(job.pool_id.casefold())
        if pool is None or pool.owner_job_key != job.key:
            return
        if not job.spec["poolInfo"]["autoPoolSpecification"].get("keepAlive", False):
            del self.pools[pool.key]

    def _complete_if_all_tasks_done(self, job):
        if (job.state == "active" and job.spec.get("onAllTasksComplete") == "terminatejob"
                and job.task_counts["active"] == 0 and job.task_counts["running"] == 0):
            self._terminate(job, "AllTasksComplete", time.time())

    # ----- tasks -----

    def check_job_accepts_tasks(self, job_id):
        job = self.job(job_id)
        self._require_changeable(job)
        return job

    def add_task(self, job, spec):
        """Adds one task to a job that accepts tasks; raises BatchError for this task's problems."""
        self._check_new_task(job, spec)
        task = Task(job, spec, time.time())
        job.tasks[task.key] = task
        job.task_order.append(task)
        self._count(task, "active", +1)
        self._register_dependencies(job, task)
        if task.unmet_dependencies == 0:
            job.ready.append(task)
        self.changed.notify_all()
        return task

    def _check_new_task(self, job, spec):
        _check_id(spec["id"], "task")
        if spec["id"].casefold() in job.tasks:
            raise BatchError(409, "TaskExists")
        for unsupported in UNSUPPORTED_TASK_PROPERTIES:
            if unsupported in spec:
                raise not_implemented(unsupported)
        depends_on = spec.get("dependsOn")
        if depends_on is not None:
            if not job.spec.get("usesTaskDependencies", False):
                raise BatchError(400, "TaskDependenciesNotSpecifiedOnJob")
            if sum(len(task_id) for task_id in depends_on.get("taskIds", [])) > MAX_DEPENDENCY_LIST_CHARS:
                raise BatchError(400, "TaskDependencyListTooLong")
            for id_range in depends_on.get("taskIdRanges", []):
                if id_range["start"] > id_range["end"]:
                    raise invalid_property("taskIdRanges", id_range, "start must not be greater than end.")
        self._check_exit_conditions(job, spec.get("exitConditions", {}))
        self._check_container_settings(job, spec)
        for resource_file in spec.get("resourceFiles", []):
            _check_resource_file(resource_file)
        for output_file in spec.get("outputFiles", []):
            container = output_file["destination"].get("container")
            if container is None:
                raise BatchError(400, "MissingRequiredProperty", [("PropertyName", "container")])
            if "identityReference" in container:
                raise not_implemented("identityReference")

    def _check_exit_conditions(self, job, conditions):
        # Spec, ExitOptions.jobAction: refused with an invalid property value when onTaskFailure is noaction.
        if job.spec.get("onTaskFailure", "noaction") != "noaction":
            return
        options = [mapping["exitOptions"] for key in ("exitCodes", "exitCodeRanges")
                   for mapping in conditions.get(key, [])]
        options += [conditions[key] for key in ("preProcessingError", "fileUploadError", "default")
                    if key in conditions]
        for option in options:
            if "jobAction" in option:
                raise invalid_property("jobAction", option["jobAction"],
                                       "jobAction needs the job's onTaskFailure to be performexitoptionsjobaction.")

    def _check_container_settings(self, job, spec):
        # Spec, containerSettings: "If the Pool that will run this Task has containerConfiguration set,
        # this must be set as well ... doesn't have containerConfiguration set, this must not be set."
        # Choice: checked when the task is added if the pool exists; else when it is scheduled.
        pool = self.pools.get(job.pool_id.casefold())
        if pool is not None and pool.has_container_configuration != ("containerSettings" in spec):
            raise invalid_property("containerSettings", spec.get("containerSettings", "(absent)"),
                                   f"The pool {'has' if pool.has_container_configuration else 'has no'} "
                                   f"containerConfiguration.")

    def _register_dependencies(self, job, task):
        depends_on = task.spec.get("dependsOn")
        if not depends_on:
            return
        task.dependency_ranges = _merge_ranges(depends_on.get("taskIdRanges", []))
        for task_id in depends_on.get("taskIds", []):
            key = task_id.casefold()
            number = _integer_id(key)
            if number is None or not any(start <= number <= end for start, end in task.dependency_ranges):
                task.dependency_keys.add(key)
        # Choice: every id a range names must exist and complete (spec: "Any Task that is explicitly
        # specified or within a dependency range must complete before the dependant Task will be scheduled").
        total = len(task.dependency_keys) + sum(end - start + 1 for start, end in task.dependency_ranges)
        satisfied = sum(1 for key in task.dependency_keys if key in job.satisfied_keys)
        if task.dependency_ranges:
            satisfied += sum(1 for key in job.satisfied_keys if self._in_ranges(key, task.dependency_ranges))
            job.range_dependents.append(task)
        for key in task.dependency_keys:
            job.dependents_by_key[key].append(task)
        task.unmet_dependencies = total - satisfied

    @staticmethod
    def _in_ranges(key, ranges):
        number = _integer_id(key)
        return number is not None and any(start <= number <= end for start, end in ranges)

    def _satisfy_dependents(self, job, task):
        job.satisfied_keys.add(task.key)
        waiting = job.dependents_by_key.pop(task.key, [])
        waiting += [dependent for dependent in job.range_dependents
                    if self._in_ranges(task.key, dependent.dependency_ranges)]
        for dependent in waiting:
            dependent.unmet_dependencies -= 1
            if dependent.unmet_dependencies == 0 and dependent.state == "active":
                job.ready.append(dependent)

    @staticmethod
    def _count(task, state_or_result, delta):
        task.job.task_counts[state_or_result] += delta
        task.job.slot_counts[state_or_result] += delta * task.required_slots

    def _move_task(self, task, state, now):
        self._count(task, task.state, -1)
        task.move_to(state, now)
        self._count(task, state, +1)

    # ----- scheduling (called by the scheduler's slots) -----

    def set_pool_resize_errors(self, errors):
        """Pools without nodes, and why, until errors is empty; then waiting tasks start."""
        self.pool_resize_errors = errors
        for pool in self.pools.values():
            self._update_capacity(pool)
        self.changed.notify_all()

    def claim_next(self, node):
        """Starts the next runnable task on node: (task, AttemptPlan), or None if nothing can run."""
        candidates = [job for job in self.jobs.values()
                      if job.state == "active" and job.ready and job.pool_id.casefold() in self.pools
                      and self.pools[job.pool_id.casefold()].runs_tasks
                      and (job.max_parallel_tasks == -1 or len(job.running_tasks) < job.max_parallel_tasks)]
        for job in sorted(candidates, key=lambda j: -j.priority):
            while job.ready:
                task = job.ready.popleft()
                if task.state == "active" and task.attempt is None:
                    return task, self._start(job, task, node)
        return None

    def _start(self, job, task, node):
        now = time.time()
        pool = self.pools[job.pool_id.casefold()]
        self._move_task(task, "running", now)
        task.start_time = now
        task.container_info = None
        previous_dir, task.task_dir = task.task_dir, node.task_dir(job.id, task.id)
        task.node_info = {"affinityId": f"TVM:{node.node_id}", "poolId": pool.id, "nodeId": node.node_id,
                          "taskRootDirectory": f"workitems/{job.id}/job-1/{task.id}"}
        job.running_tasks.add(task)
        wall_clock = task.spec.get("constraints", {}).get("maxWallClockTime")
        vm_size = self.offer.vm_size(pool.spec.get("vmSize", ""))
        return AttemptPlan(
            account_name=self.name, account_url=self.service_url, job_id=job.id, task_id=task.id,
            pool_id=pool.id, task_dir=task.task_dir, previous_task_dir=previous_dir,
            command_line=task.spec["commandLine"],
            container_settings=task.spec.get("containerSettings"),
            pool_has_container_configuration=pool.has_container_configuration,
            pool_gpus=None if vm_size is None else vm_size.gpus,
            environment=[(s["name"], s.get("value", "")) for s in
                         job.spec.get("commonEnvironmentSettings", []) + task.spec.get("environmentSettings", [])],
            resource_files=task.spec.get("resourceFiles", []),
            output_files=task.spec.get("outputFiles", []),
            wall_clock_seconds=None if wall_clock is None else parse_duration(wall_clock))

    def finish_attempt(self, task, outcome):
        """Applies what a node reports about an attempt: retry, requeue or completion."""
        job, now = task.job, time.time()
        task.attempt = None
        job.running_tasks.discard(task)
        if outcome.container_info is not None:
            task.container_info = outcome.container_info
        if self.jobs.get(job.key) is not job or job.state == "deleting":
            return
        if outcome.cancel_reason in ("preempted", "requeued"):
            # Preemption requeues without touching retryCount or requeueCount, which counts user
            # requests only (spec, BatchTaskExecutionInfo.requeueCount; docs/azure-facts.md section 4),
            # such as disabling the job with requeue.
            if outcome.cancel_reason == "requeued":
                task.requeue_count += 1
                task.last_requeue_time = now
            self._move_task(task, "active", now)
            job.ready.appendleft(task)
        elif (outcome.cancel_reason is None and outcome.failure_kind is None and outcome.exit_code != 0
              and job.state in _LIVE_JOB_STATES and task.retries_left()):
            task.retry_count += 1
            task.last_retry_time = now
            self._move_task(task, "active", now)
            job.ready.append(task)
        else:
            self._complete_task(job, task, outcome, now)
        if job.state == "terminating" and not job.running_tasks:
            self._finish_termination(job, now)
        self.changed.notify_all()

    def _complete_task(self, job, task, outcome, now):
        failure, failure_kind = outcome.failure_info, outcome.failure_kind
        if failure is None and outcome.cancel_reason == "ended":
            failure = failure_info("TaskEnded", "Task Was Ended by User Request")
        elif failure is None and outcome.cancel_reason == "wallclock":
            # Choice: the code the service uses for a task killed at maxWallClockTime is not documented.
            failure = failure_info("TaskEnded", "Task was ended because it exceeded its maxWallClockTime")
        elif failure is None and outcome.exit_code not in (None, 0):
            failure = failure_info("FailureExitCode", "The task process exited with an unexpected exit code",
                                   [("Message", "The task process exited with an unexpected exit code")])
        task.exit_code = outcome.exit_code
        task.failure_info = failure
        task.result = "failure" if failure else "success"
        task.end_time = now
        self._move_task(task, "completed", now)
        self._count(task, task.result, +1)
        options = _exit_options(task, outcome.exit_code, failure_kind if failure else None)
        dependency_action = options.get("dependencyAction", "satisfy" if task.result == "success" else "block")
        if dependency_action == "satisfy":
            self._satisfy_dependents(job, task)
        if job.spec.get("onTaskFailure") == "performexitoptionsjobaction" and job.state == "active":
            job_action = options.get("jobAction", "none" if task.result == "success" else "terminate")
            if job_action == "terminate":
                self._terminate(job, "TaskFailed", now)
            elif job_action == "disable":
                # Spec, BatchJobActionKind disable: "equivalent to calling the disable Job API, with a
                # disableTasks value of requeue".
                self._disable(job, "requeue", now)
        self._complete_if_all_tasks_done(job)

    # ----- time and housekeeping (called by the scheduler) -----

    def enforce_job_deadlines(self):
        now = time.time()
        for job in list(self.jobs.values()):
            if job.state in _LIVE_JOB_STATES and job.deadline is not None and now >= job.deadline:
                self._terminate(job, "MaxWallClockTimeExpiry", now)
                self.changed.notify_all()

    def remove_deleted_jobs(self):
        """Forgets jobs whose deletion has finished (no attempt left); returns their ids."""
        removed = [job for job in self.jobs.values() if job.state == "deleting" and not job.running_tasks]
        for job in removed:
            del self.jobs[job.key]
            self._release_auto_pool(job)
        return [job.id for job in removed]

    def preempt(self, job_id=None, task_ids=None):
        """Emulates preemption of the nodes running the chosen tasks: the tasks are requeued."""
        wanted = None if task_ids is None else {task_id.casefold() for task_id in task_ids}
        preempted = []
        for job in self.jobs.values():
            if job_id is not None and job.key != job_id.casefold():
                continue
            for task in job.running_tasks:
                if wanted is None or task.key in wanted:
                    task.attempt.cancel("preempted")
                    preempted.append({"jobId": job.id, "taskId": task.id})
        return preempted

    def reset(self):
        """Forgets every pool and job, cancelling running attempts; returns the forgotten job ids."""
        job_ids = [job.id for job in self.jobs.values()]
        for job in self.jobs.values():
            for task in job.running_tasks:
                task.attempt.cancel("deleted")
        self.jobs.clear()
        self.pools.clear()
        self.pool_resize_errors = []
        self.offer = AccountOffer()
        self.changed.notify_all()
        return job_ids


def _check_job_settings(settings):
    # Spec, BatchMetadataItem: name and value are required; an empty name is EmptyMetadataKey (Batch status
    # and error codes: "The key for one of the metadata key-value pairs is empty.").
    for item in settings.get("metadata", []):
        if not item["name"]:
            raise BatchError(400, "EmptyMetadataKey", [("PropertyName", "metadata")])
    priority = settings.get("priority", 0)
    if not -1000 <= priority <= 1000:
        raise BatchError(400, "OutOfRangePriority", [("PropertyName", "priority"), ("PropertyValue", str(priority))])
    max_parallel = settings.get("maxParallelTasks", -1)
    if max_parallel != -1 and max_parallel < 1:
        raise invalid_property("maxParallelTasks", max_parallel, "maxParallelTasks must be -1 or greater than 0.")


def _check_resource_file(resource_file):
    sources = [key for key in ("httpUrl", "storageContainerUrl", "autoStorageContainerName") if key in resource_file]
    if len(sources) != 1:
        raise invalid_property("resourceFiles", resource_file, "Exactly one of httpUrl, storageContainerUrl "
                                                               "and autoStorageContainerName must be given.")
    if sources[0] == "autoStorageContainerName":
        raise not_implemented("autoStorageContainerName")
    if "identityReference" in resource_file:
        raise not_implemented("identityReference")
    if sources[0] == "httpUrl" and "filePath" not in resource_file:
        raise BatchError(400, "MissingRequiredProperty", [("PropertyName", "filePath")])
