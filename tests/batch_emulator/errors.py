# Batch service errors: the exception the emulator raises and the body the service sends.
# Body shape (docs/azure-facts.md section 4, BatchError in the spec):
#   {"odata.metadata": ".../$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element",
#    "code": "...", "message": {"lang": "en-US", "value": "...\nRequestId:...\nTime:..."},
#    "values": [{"key": "...", "value": "..."}]}
# Codes and messages: learn.microsoft.com/rest/api/batchservice/batch-status-and-error-codes and
# Microsoft.Azure.Batch BatchErrorCodeStrings.cs. Messages marked (guess) were not found verbatim.
from wire_format import iso_time, metadata_url

MESSAGES = {
    "AuthenticationFailed": "Server failed to authenticate the request. Make sure the value of "
                            "Authorization header is formed correctly including the signature.",
    "InternalError": "Server encountered an internal error. Please try again after some time.",
    "InvalidPropertyValue": "The value provided for one of the properties in the request body is invalid.",
    "InvalidQueryParameterValue": "Value for one of the query parameters specified in the request URI "
                                  "is invalid.",
    "InvalidRange": "The specified byte range is invalid for the given resource.",
    "InvalidRequestBody": "The specified Request Body is not syntactically valid.",
    "InvalidUri": "The requested URI does not represent any resource on the server.",
    "JobBeingDeleted": "The specified job has been marked for deletion and is being garbage collected.",
    "JobBeingTerminated": "The specified job is being terminated.",  # (guess)
    "JobCompleted": "The specified job is already in a completed state.",
    "JobExists": "The specified job already exists.",
    "JobNotActive": "The specified job is not in active state.",
    "EmptyMetadataKey": "The key for one of the metadata key-value pairs is empty.",
    "OperationInvalidForCurrentState": "The specified operation is not valid for the current state of the "
                                       "resource.",
    "JobNotFound": "The specified job does not exist.",
    "MissingRequiredProperty": "A required property was not specified in the request body.",
    "MissingRequiredQueryParameter": "A query parameter that's mandatory for this request is not specified.",
    "OperationTimedOut": "Operation could not be completed within the specified time.",
    "OutOfRangePriority": "The specified priority is out of the range -1000 to 1000.",  # (guess)
    "OutOfRangeQueryParameterValue": "A query parameter specified in the request URI is outside the "
                                     "permissible range.",
    "PoolExists": "The specified pool already exists.",
    "PoolBeingDeleted": "The specified pool has been marked for deletion and is being reclaimed.",  # (guess)
    "AutoScaleTooManyRequestsToEnable": "Enable AutoScale requests for the same pool must be separated by at "
                                        "least 30 seconds.",
    "PoolNotFound": "The specified pool does not exist.",
    "FileNotFound": "The specified file does not exist.",
    "RequestBodyTooLarge": "The request body is too large and exceeds the maximum permissible limit.",
    "ServerBusy": "The server is currently unable to receive requests. Please retry your request.",
    "TaskDependenciesNotSpecifiedOnJob": "The Task specifies dependencies but the Job does not allow "
                                         "Tasks with dependencies (usesTaskDependencies).",  # (guess)
    "TaskDependencyListTooLong": "The Task dependency list is too long (taskIds exceeds 64000 "
                                 "characters).",  # (guess)
    "TaskExists": "The specified task already exists.",
    "TaskNotFound": "The specified task does not exist.",
    "TooManyRequests": "The server is currently unable to receive requests. Please retry your request.",
    "UnsupportedHttpVerb": "The resource doesn't support the specified HTTP verb.",
}

ERRORS_METADATA_FRAGMENT = "Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element"


class BatchError(Exception):
    """An error the service reports: HTTP status, error code, detail values and extra headers."""

    def __init__(self, status, code, values=(), headers=None, message=None):
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.values = list(values)
        self.headers = dict(headers or {})
        self.message = message or MESSAGES[code]

    def to_document(self, request_id, now):
        """The BatchError object (without odata.metadata), as in an addtaskcollection result."""
        document = {"code": self.code,
                    "message": {"lang": "en-US",
                                "value": f"{self.message}\nRequestId:{request_id}\nTime:{iso_time(now)}"}}
        if self.values:
            document["values"] = [{"key": key, "value": value} for key, value in self.values]
        return document

    def to_body(self, base_url, request_id, now):
        return {"odata.metadata": metadata_url(base_url, ERRORS_METADATA_FRAGMENT),
                **self.to_document(request_id, now)}


def invalid_property(name, value, reason):
    return BatchError(400, "InvalidPropertyValue",
                      [("PropertyName", name), ("PropertyValue", str(value)), ("Reason", reason)])


def invalid_query(name, value, reason):
    return BatchError(400, "InvalidQueryParameterValue",
                      [("QueryParameterName", name), ("QueryParameterValue", value), ("Reason", reason)])
