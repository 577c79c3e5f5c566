# The resources of a Batch account as the service stores and renders them: pools, jobs and tasks,
# with their ids (case-insensitive keys), ETags, state history, counters and JSON views
# (spec definitions BatchPool, BatchJob, BatchTask, with the defaults the service fills in).
import collections
import re

from wire_format import UNLIMITED_DURATION, http_date, iso_time, new_etag, parse_duration

DEFAULT_RETENTION = "P7D"                # spec, BatchTaskConstraints.retentionTime
# An autoscale formula's assignment of a target ("$TargetLowPriorityNodes = ...;").
_TARGET_ASSIGNMENT = re.compile(r"\$(TargetDedicatedNodes|TargetLowPriorityNodes)\s*=(?!=)\s*([^;]*)")


class _Resource:
    """Bookkeeping shared by pools, jobs and tasks: identity, ETag, times, state history."""

    def __init__(self, resource_id, state, now):
        self.id = resource_id
        self.key = resource_id.casefold()
        self.creation_time = now
        self.state = state
        self.state_time = now
        self.previous_state = None
        self.previous_state_time = None
        self.etag = new_etag()
        self.last_modified = now
        self.cached_view = None

    def touch(self, now):
        self.etag = new_etag()
        self.last_modified = now
        self.cached_view = None

    def move_to(self, state, now):
        self.previous_state, self.previous_state_time = self.state, self.state_time
        self.state, self.state_time = state, now
        self.touch(now)

    def common_view(self, url):
        view = {"id": self.id, "url": url, "eTag": self.etag, "lastModified": iso_time(self.last_modified),
                "creationTime": iso_time(self.creation_time), "state": self.state,
                "stateTransitionTime": iso_time(self.state_time)}
        if self.previous_state:
            view["previousState"] = self.previous_state
            view["previousStateTransitionTime"] = iso_time(self.previous_state_time)
        return view

    def response_headers(self, url):
        return {"ETag": self.etag, "Last-Modified": http_date(self.last_modified),
                "DataServiceId": url, "Location": url}


class Pool(_Resource):
    def __init__(self, spec, now, owner_job_key=None):
        super().__init__(spec["id"], "active", now)
        self.spec = spec
        self.owner_job_key = owner_job_key      # set for auto pools
        self.capacity_errors = []   # set: the pool has no nodes at all, and says why (control pool-capacity)
        self.spot_errors = []       # set: its Spot nodes cannot be allocated (control account "spot")
        self.size_errors = []       # set at creation: its VM size is not offered (account "unofferedVmSize")
        self.deletable_at = None    # set by a delete: the earliest time it is gone
        self.autoscale_enabled_at = None    # the last Pools_EnablePoolAutoScale, for its 30-second rule

    @property
    def has_container_configuration(self):
        return "containerConfiguration" in self.spec.get("virtualMachineConfiguration", {})

    def asks_for(self, target):
        """Whether the pool wants nodes of that target ("TargetDedicatedNodes" or "TargetLowPriorityNodes"):
        a count above 0, or with autoscale a formula assigning it anything but a literal 0.
        Choice: formulas are not evaluated."""
        if self.spec.get("enableAutoScale", False):
            return any(name == target and value.strip() != "0"
                       for name, value in _TARGET_ASSIGNMENT.findall(self.spec.get("autoScaleFormula", "")))
        return self.spec.get(target[0].lower() + target[1:], 0) > 0

    @property
    def runs_tasks(self):
        """Whether the pool has nodes. Choice: a pool that asks for no nodes at all still runs tasks (the
        emulator's nodes are shared), unless its only nodes would be Spot ones that cannot be had."""
        if self.capacity_errors or self.size_errors or self.state == "deleting":
            return False
        return not (self.spot_errors and not self.asks_for("TargetDedicatedNodes"))

    def set_capacity(self, capacity_errors, spot_errors, now):
        if (capacity_errors, spot_errors) != (self.capacity_errors, self.spot_errors):
            self.capacity_errors, self.spot_errors = capacity_errors, spot_errors
            self.touch(now)

    def view(self, base_url):
        spec = self.spec
        view = self.common_view(f"{base_url}/pools/{self.id}")
        view.update({key: value for key, value in spec.items() if key != "id"})
        no_nodes = bool(self.capacity_errors or self.size_errors)
        view.update({"allocationState": "steady", "allocationStateTransitionTime": iso_time(self.creation_time),
                     "resizeTimeout": spec.get("resizeTimeout", "PT15M"),
                     "currentDedicatedNodes": 0 if no_nodes else spec.get("targetDedicatedNodes", 0),
                     "currentLowPriorityNodes": 0 if no_nodes or self.spot_errors
                     else spec.get("targetLowPriorityNodes", 0),
                     "targetDedicatedNodes": spec.get("targetDedicatedNodes", 0),
                     "targetLowPriorityNodes": spec.get("targetLowPriorityNodes", 0),
                     "enableAutoScale": spec.get("enableAutoScale", False),
                     "enableInterNodeCommunication": spec.get("enableInterNodeCommunication", False),
                     "taskSlotsPerNode": spec.get("taskSlotsPerNode", 1),
                     "taskSchedulingPolicy": spec.get("taskSchedulingPolicy", {"nodeFillType": "spread"})})
        if self.capacity_errors or self.size_errors or self.spot_errors:
            view["resizeErrors"] = self.capacity_errors + self.size_errors + self.spot_errors
        return view


class Task(_Resource):
    def __init__(self, job, spec, now):
        super().__init__(spec["id"], "active", now)
        self.job = job
        self.spec = spec
        constraints = spec.get("constraints", {})
        self.max_retries = constraints.get("maxTaskRetryCount",
                                           job.spec.get("constraints", {}).get("maxTaskRetryCount", 0))
        self.required_slots = spec.get("requiredSlots", 1)
        self.retry_count = 0
        self.last_retry_time = None
        self.requeue_count = 0          # requeues a user asked for (disable with requeue)
        self.last_requeue_time = None
        self.start_time = None
        self.end_time = None
        self.exit_code = None
        self.result = None
        self.failure_info = None
        self.container_info = None
        self.node_info = None
        self.task_dir = None            # directory of the latest attempt, for the files API
        self.attempt = None             # the running attempt (node.Attempt), if any
        self.unmet_dependencies = 0
        self.dependency_keys = set()    # explicit taskIds not covered by a range (casefolded)
        self.dependency_ranges = []     # merged (start, end) pairs

    def retries_left(self):
        return self.max_retries == -1 or self.retry_count < self.max_retries

    def view(self, base_url):
        if self.cached_view is not None and self.cached_view[0] == base_url:
            return self.cached_view[1]
        view = self.common_view(f"{base_url}/jobs/{self.job.id}/tasks/{self.id}")
        view.update({key: value for key, value in self.spec.items() if key != "id"})
        constraints = self.spec.get("constraints", {})
        view["constraints"] = {"maxWallClockTime": constraints.get("maxWallClockTime", UNLIMITED_DURATION),
                               "retentionTime": constraints.get("retentionTime", DEFAULT_RETENTION),
                               "maxTaskRetryCount": self.max_retries}
        view["requiredSlots"] = self.required_slots
        view.setdefault("userIdentity", {"autoUser": {"scope": "pool", "elevationLevel": "nonadmin"}})
        execution = {"retryCount": self.retry_count, "requeueCount": self.requeue_count}
        if self.start_time is not None:
            execution["startTime"] = iso_time(self.start_time)
        if self.last_retry_time is not None:
            execution["lastRetryTime"] = iso_time(self.last_retry_time)
        if self.last_requeue_time is not None:
            execution["lastRequeueTime"] = iso_time(self.last_requeue_time)
        if self.container_info is not None:
            execution["containerInfo"] = self.container_info
        if self.state == "completed":
            execution["endTime"] = iso_time(self.end_time)
            execution["result"] = self.result
            if self.exit_code is not None:
                execution["exitCode"] = self.exit_code
            if self.failure_info is not None:
                execution["failureInfo"] = self.failure_info
        view["executionInfo"] = execution
        if self.node_info is not None:
            node_url = f"{base_url}/pools/{self.node_info['poolId']}/nodes/{self.node_info['nodeId']}"
            view["nodeInfo"] = {**self.node_info, "nodeUrl": node_url,
                                "taskRootDirectoryUrl": f"{node_url}/files/{self.node_info['taskRootDirectory']}"}
        self.cached_view = (base_url, view)
        return view


class Job(_Resource):
    def __init__(self, spec, pool_id, now):
        super().__init__(spec["id"], "active", now)
        self.spec = spec
        self.pool_id = pool_id
        self.end_time = None
        self.terminate_reason = None
        self.scheduling_error = None         # why the job could not start (its auto pool), if it could not
        self.disable_option = None           # disableTasks of the disable in progress
        self.tasks = {}                      # key -> Task
        self.task_order = []                 # insertion order: listing order and paging positions
        self.ready = collections.deque()     # active tasks whose dependencies are met
        self.running_tasks = set()
        self.task_counts = collections.Counter()      # active, running, completed, success, failure
        self.slot_counts = collections.Counter()      # the same, in task slots (requiredSlots)
        self.satisfied_keys = set()           # tasks whose completion satisfies dependents
        self.dependents_by_key = collections.defaultdict(list)
        self.range_dependents = []
        wall_clock = spec.get("constraints", {}).get("maxWallClockTime")
        self.deadline = None if wall_clock is None else now + parse_duration(wall_clock)

    @property
    def priority(self):
        return self.spec.get("priority", 0)

    @property
    def max_parallel_tasks(self):
        return self.spec.get("maxParallelTasks", -1)

    def view(self, base_url):
        spec = self.spec
        view = self.common_view(f"{base_url}/jobs/{self.id}")
        view.update({key: value for key, value in spec.items() if key != "id"})
        view.update({"usesTaskDependencies": spec.get("usesTaskDependencies", False),
                     "priority": self.priority, "maxParallelTasks": self.max_parallel_tasks,
                     "allowTaskPreemption": spec.get("allowTaskPreemption", False),
                     "constraints": {"maxWallClockTime": UNLIMITED_DURATION, "maxTaskRetryCount": 0,
                                     **spec.get("constraints", {})},
                     "onAllTasksComplete": spec.get("onAllTasksComplete", "noaction"),
                     "onTaskFailure": spec.get("onTaskFailure", "noaction")})
        execution = {"startTime": iso_time(self.creation_time), "poolId": self.pool_id}
        if self.state == "completed":
            execution["endTime"] = iso_time(self.end_time)
            if self.terminate_reason is not None:
                execution["terminateReason"] = self.terminate_reason
        if self.scheduling_error is not None:
            execution["schedulingError"] = self.scheduling_error
        view["executionInfo"] = execution
        return view

    def counts_view(self):
        def counts(counter):
            return {"active": counter["active"], "running": counter["running"],
                    "completed": counter["completed"], "succeeded": counter["success"],
                    "failed": counter["failure"]}
        return {"taskCounts": counts(self.task_counts),
                "taskSlotCounts": counts(self.slot_counts)}
