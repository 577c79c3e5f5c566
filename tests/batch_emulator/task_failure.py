# The failureInfo a node reports for a task (spec, BatchTaskFailureInfo), and the error that stops an
# attempt before its command runs (a pre-processing error: not retried, exitConditions.preProcessingError).
# Codes: Microsoft.Azure.Batch TaskFailureInformationCodes.


def failure_info(code, message, details=()):
    info = {"category": "usererror", "code": code, "message": message}
    if details:
        info["details"] = [{"name": name, "value": value} for name, value in details]
    return info


class PreProcessingError(Exception):
    def __init__(self, code, message, details=()):
        super().__init__(f"{code}: {message}")
        self.failure_info = failure_info(code, message, details)
