# The Batch operations the emulator implements, by operationId (third_party/azure-batch/operations.txt):
# each turns a validated request into account calls and renders the service's response (status,
# headers, body with odata.metadata). Operations not listed here answer 501 NotImplemented.
import os
import re
import time
from urllib.parse import quote

from errors import BatchError, invalid_property
from http_messages import Response
from odata_query import apply_select, list_page
from wire_format import http_date, iso_time, json_bytes, metadata_url

JSON_CONTENT_TYPE = "application/json;odata=minimalmetadata"
MAX_TASKS_PER_COLLECTION = 100                 # spec, BatchTaskGroup.value
MAX_COLLECTION_BODY_BYTES = 1024 * 1024        # "must be less than 1MB" (spec, BatchTaskGroup.value)
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


def _json(status, document, headers=None):
    return Response(status, {"Content-Type": JSON_CONTENT_TYPE, **(headers or {})}, json_bytes(document))


def _entity(request, resource, fragment):
    """200 with one resource, its ETag and Last-Modified, honouring $select."""
    document = {"odata.metadata": metadata_url(request.base_url, fragment),
                **apply_select(resource.view(request.base_url), request.query_value("$select"))}
    return _json(200, document, {"ETag": resource.etag, "Last-Modified": http_date(resource.last_modified)})


class BatchApi:
    def __init__(self, account, validator, stats):
        self.account = account
        self.validator = validator
        self.stats = stats
        self.handlers = {
            "Pools_CreatePool": self.create_pool, "Pools_GetPool": self.get_pool,
            "Pools_PoolExists": self.pool_exists, "Pools_ListPools": self.list_pools,
            "Pools_DeletePool": self.delete_pool, "Pools_EnablePoolAutoScale": self.enable_pool_autoscale,
            "Pools_ListSupportedImages": self.list_supported_images,
            "Jobs_CreateJob": self.create_job, "Jobs_GetJob": self.get_job, "Jobs_ListJobs": self.list_jobs,
            "Jobs_UpdateJob": self.update_job, "Jobs_DeleteJob": self.delete_job,
            "Jobs_TerminateJob": self.terminate_job, "Jobs_GetJobTaskCounts": self.get_task_counts,
            "Jobs_DisableJob": self.disable_job, "Jobs_EnableJob": self.enable_job,
            "Tasks_CreateTask": self.create_task, "Tasks_CreateTaskCollection": self.create_task_collection,
            "Tasks_ListTasks": self.list_tasks, "Tasks_GetTask": self.get_task,
            "Tasks_GetTaskFile": self.get_task_file, "Tasks_GetTaskFileProperties": self.get_task_file_properties,
        }

    def handle(self, operation, params, request, task_limit=None, server_errors=0):
        handler = self.handlers.get(operation.operation_id)
        if handler is None:
            raise BatchError(501, "NotImplemented", [("OperationId", operation.operation_id)],
                             message=f"The Batch emulator does not implement {operation.operation_id}.")
        if operation.operation_id == "Tasks_CreateTaskCollection":
            return handler(params, request, task_limit, server_errors)
        return handler(params, request)

    def _body(self, definition, request, optional=False):
        if optional and not request.body.strip():
            return {}
        return self.validator.parse(definition, request.body)

    # ----- pools -----

    def create_pool(self, params, request):
        spec = self._body("BatchPoolCreateOptions", request)
        with self.account.changed:
            pool = self.account.create_pool(spec)
            return Response(201, pool.response_headers(f"{request.base_url}/pools/{pool.id}"))

    def get_pool(self, params, request):
        with self.account.changed:
            return _entity(request, self.account.pool(params["poolId"]), "pools/@Element")

    def pool_exists(self, params, request):
        with self.account.changed:
            pool = self.account.pool(params["poolId"])
            return Response(200, {"ETag": pool.etag, "Last-Modified": http_date(pool.last_modified)})

    def list_pools(self, params, request):
        with self.account.changed:
            pools = list(self.account.pools.values())
            return _json(200, list_page(request, pools, lambda pool: pool.view(request.base_url), "pools"))

    def delete_pool(self, params, request):
        with self.account.changed:
            self.account.delete_pool(params["poolId"])
        return Response(202)

    def enable_pool_autoscale(self, params, request):
        options = self._body("BatchPoolEnableAutoScaleOptions", request)
        with self.account.changed:
            pool = self.account.enable_pool_autoscale(params["poolId"], options)
            return Response(200, pool.response_headers(f"{request.base_url}/pools/{pool.id}"))

    def list_supported_images(self, params, request):
        with self.account.changed:
            images = self.account.offer.images
        return _json(200, list_page(request, images, lambda image: image, "supportedimages"))

    # ----- jobs -----

    def create_job(self, params, request):
        spec = self._body("BatchJobCreateOptions", request)
        with self.account.changed:
            job = self.account.create_job(spec)
            return Response(201, job.response_headers(f"{request.base_url}/jobs/{job.id}"))

    def get_job(self, params, request):
        with self.account.changed:
            return _entity(request, self.account.job(params["jobId"]), "jobs/@Element")

    def list_jobs(self, params, request):
        with self.account.changed:
            jobs = list(self.account.jobs.values())
            return _json(200, list_page(request, jobs, lambda job: job.view(request.base_url), "jobs"))

    def update_job(self, params, request):
        changes = self._body("BatchJobUpdateOptions", request)
        with self.account.changed:
            job = self.account.update_job(params["jobId"], changes)
            return Response(200, job.response_headers(f"{request.base_url}/jobs/{job.id}"))

    def delete_job(self, params, request):
        with self.account.changed:
            self.account.delete_job(params["jobId"])
        return Response(202)

    def terminate_job(self, params, request):
        options = self._body("BatchJobTerminateOptions", request, optional=True)
        with self.account.changed:
            job = self.account.terminate_job(params["jobId"], options.get("terminateReason", "UserTerminate"))
            return Response(202, job.response_headers(f"{request.base_url}/jobs/{job.id}"))

    def disable_job(self, params, request):
        options = self._body("BatchJobDisableOptions", request)
        with self.account.changed:
            job = self.account.disable_job(params["jobId"], options["disableTasks"])
            return Response(202, job.response_headers(f"{request.base_url}/jobs/{job.id}"))

    def enable_job(self, params, request):
        with self.account.changed:
            job = self.account.enable_job(params["jobId"])
            return Response(202, job.response_headers(f"{request.base_url}/jobs/{job.id}"))

    def get_task_counts(self, params, request):
        with self.account.changed:
            counts = self.account.job(params["jobId"]).counts_view()
        return _json(200, {"odata.metadata": metadata_url(request.base_url, "taskcounts/@Element"), **counts})

    # ----- tasks -----

    def create_task(self, params, request):
        spec = self._body("BatchTaskCreateOptions", request)
        with self.account.changed:
            job = self.account.check_job_accepts_tasks(params["jobId"])
            task = self.account.add_task(job, spec)
            headers = task.response_headers(f"{request.base_url}/jobs/{job.id}/tasks/{task.id}")
        self.stats.count_tasks_added(job.id, [task.id])
        return Response(201, headers)

    def create_task_collection(self, params, request, task_limit, server_errors=0):
        if len(request.body) >= MAX_COLLECTION_BODY_BYTES:
            raise BatchError(413, "RequestBodyTooLarge", [("MaxBodySizeInBytes", str(MAX_COLLECTION_BODY_BYTES))])
        specs = self._body("BatchTaskGroup", request)["value"]
        if len(specs) > MAX_TASKS_PER_COLLECTION:
            # Choice: the code for more than 100 tasks is not documented; InvalidPropertyValue on "value".
            raise invalid_property("value", f"{len(specs)} tasks", "A collection holds at most 100 tasks.")
        if task_limit is not None:
            specs = specs[:task_limit]
        results, added, now = [], [], time.time()
        with self.account.changed:
            job = self.account.check_job_accepts_tasks(params["jobId"])
            for index, spec in enumerate(specs):
                if index < server_errors:      # an injected fault (faults.py taskServerError)
                    busy = BatchError(503, "ServerBusy")
                    results.append({"status": "servererror", "taskId": spec["id"],
                                    "error": busy.to_document(request.request_id, now)})
                    continue
                try:
                    task = self.account.add_task(job, spec)
                except BatchError as problem:
                    results.append({"status": "clienterror", "taskId": spec["id"],
                                    "error": problem.to_document(request.request_id, now)})
                    continue
                added.append(task.id)
                results.append({"status": "success", "taskId": task.id, "eTag": task.etag,
                                "lastModified": iso_time(task.last_modified),
                                "location": f"{request.base_url}/jobs/{job.id}/tasks/{task.id}"})
        self.stats.count_tasks_added(job.id, added)
        return _json(200, {"odata.metadata": metadata_url(request.base_url, "taskaddresult"), "value": results})

    def list_tasks(self, params, request):
        with self.account.changed:
            tasks = self.account.job(params["jobId"]).task_order
            return _json(200, list_page(request, tasks, lambda task: task.view(request.base_url), "tasks"))

    def get_task(self, params, request):
        with self.account.changed:
            return _entity(request, self.account.task(params["jobId"], params["taskId"]), "tasks/@Element")

    # ----- task files (GET and HEAD /jobs/{jobId}/tasks/{taskId}/files/{filePath}) -----

    def _task_file(self, params, request):
        with self.account.changed:
            task_dir = self.account.task(params["jobId"], params["taskId"]).task_dir
        path = None if task_dir is None else os.path.normpath(os.path.join(task_dir, params["filePath"]))
        if path is None or os.path.commonpath([task_dir, path]) != task_dir or not os.path.isfile(path):
            raise BatchError(404, "FileNotFound")
        status = os.stat(path)
        url = (f"{request.base_url}/jobs/{params['jobId']}/tasks/{params['taskId']}/files/"
               f"{quote(params['filePath'], safe='')}")
        headers = {"Content-Type": "application/octet-stream", "ocp-creation-time": http_date(status.st_ctime),
                   "ocp-batch-file-isdirectory": "False", "ocp-batch-file-url": url,
                   "ocp-batch-file-mode": f"0{status.st_mode:o}", "Last-Modified": http_date(status.st_mtime)}
        return path, status.st_size, headers

    def get_task_file(self, params, request):
        path, size, headers = self._task_file(params, request)
        start, end = 0, size - 1
        byte_range = request.header("ocp-range")
        if byte_range:
            match = _RANGE.match(byte_range)
            if match is None or int(match.group(1)) >= size:
                raise BatchError(416, "InvalidRange", [("Range", byte_range)])
            start = int(match.group(1))
            end = min(int(match.group(2) or size - 1), size - 1)
        with open(path, "rb") as task_file:
            task_file.seek(start)
            return Response(200, headers, task_file.read(max(end - start + 1, 0)))

    def get_task_file_properties(self, params, request):
        _, size, headers = self._task_file(params, request)
        return Response(200, {**headers, "Content-Length": str(size)})
