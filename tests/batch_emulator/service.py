# The request pipeline of the Batch front door, in the order the service applies it:
#   route (operations.txt) -> injected faults -> api-version -> authentication -> operation -> headers.
# api-version comes before authentication: an unsigned request without it gets
# MissingRequiredQueryParameter from the real service (Azure/azure-sdk-for-js#22398); an unknown one
# gets InvalidQueryParameterValue with Reason "The specified api version string is invalid."
# (Azure/azure-batch-software-entitlement, src/Microsoft.Azure.Batch.SoftwareEntitlement.Server/readme.md).
# Every response carries request-id and DataServiceVersion; client-request-id is echoed when
# return-client-request-id is true. /_emulator/* goes to the control endpoint instead, and the Entra ID
# and IMDS token paths (entra.py) to the token service when one is configured.
import sys
import time
import traceback

from errors import MESSAGES, BatchError, invalid_query
from http_messages import DROP_CONNECTION, Response
from wire_format import json_bytes, new_request_id

# The data-plane versions the official SDKs and our client send (learn.microsoft.com/rest/api/
# batchservice/batch-service-rest-api-versioning and the spec's info.version).
SUPPORTED_API_VERSIONS = frozenset({"2022-10-01.16.0", "2023-05-01.17.0", "2023-11-01.18.0",
                                    "2024-02-01.19.0", "2024-07-01.20.0", "2025-06-01.21.0"})
JSON_CONTENT_TYPE = "application/json;odata=minimalmetadata"


def _check_api_version(request):
    version = request.query_value("api-version")
    if version is None:
        raise BatchError(400, "MissingRequiredQueryParameter", [("QueryParameterName", "api-version")])
    if version not in SUPPORTED_API_VERSIONS:
        raise invalid_query("api-version", version, "The specified api version string is invalid.")


class BatchService:
    def __init__(self, operations, api, authenticator, faults, stats, control, entra=None):
        self.operations = operations
        self.api = api
        self.authenticator = authenticator
        self.faults = faults
        self.stats = stats
        self.control = control
        self.entra = entra

    def handle(self, request):
        """A Response, or DROP_CONNECTION when a fault says to close the connection unanswered."""
        if request.raw_path.startswith("/_emulator/"):
            return self.control.handle(request)
        token_answer = self.entra.handle(request) if self.entra is not None else None
        if token_answer is not None:
            return token_answer
        request.request_id = new_request_id()
        try:
            operation, params = self._route(request)
        except BatchError as problem:
            self.stats.count_request("(no operation)")
            return self._finish(request, self._error_response(request, problem))
        self.stats.count_request(operation.operation_id)
        fault = self.faults.take(operation)
        if fault is not None and fault.kind == "drop":
            return DROP_CONNECTION
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.delay)
        if fault is not None and fault.kind == "status":
            headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
            return self._finish(request, self._error_response(
                request, BatchError(fault.status, fault.code, headers=headers,
                                    message=MESSAGES.get(fault.code, f"Injected fault: {fault.code}."))))
        try:
            _check_api_version(request)
            self.authenticator.authenticate(request)
            response = self.api.handle(operation, params, request,
                                       task_limit=fault.partial if fault is not None and fault.kind == "partial"
                                       else None,
                                       server_errors=fault.taskServerError
                                       if fault is not None and fault.kind == "taskServerError" else 0)
        except BatchError as problem:
            response = self._error_response(request, problem)
        except Exception:       # a bug in the emulator: answer as the service does, and say what happened
            traceback.print_exc(file=sys.stderr)
            response = self._error_response(request, BatchError(500, "InternalError"))
        if fault is not None and fault.kind == "partial":
            return DROP_CONNECTION
        return self._finish(request, response)

    def _route(self, request):
        try:
            return self.operations.match(request.method, request.raw_path)
        except LookupError as problem:
            if problem.args[0] == "method":
                raise BatchError(405, "UnsupportedHttpVerb") from None
            raise BatchError(400, "InvalidUri", [("Path", request.raw_path)]) from None

    @staticmethod
    def _error_response(request, problem):
        body = problem.to_body(request.base_url, request.request_id, time.time())
        return Response(problem.status, {"Content-Type": JSON_CONTENT_TYPE, **problem.headers}, json_bytes(body))

    @staticmethod
    def _finish(request, response):
        response.headers["request-id"] = request.request_id
        response.headers["DataServiceVersion"] = "3.0"
        client_request_id = request.header("client-request-id")
        if client_request_id and request.header("return-client-request-id").lower() == "true":
            response.headers["client-request-id"] = client_request_id
        return response
