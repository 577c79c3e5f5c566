# Resource files: what a node downloads into the task working directory before the command line
# starts (spec, ResourceFile). httpUrl + filePath fetches one blob or URL; storageContainerUrl lists
# the container (optionally under blobPrefix) and fetches every blob to filePath/<blob name>.
# A failure is a pre-processing error: the task completes without running, with the failure code a
# node reports (Microsoft.Azure.Batch TaskFailureInformationCodes).
import os

import blob_storage
from redaction import redact_url
from task_failure import PreProcessingError

DEFAULT_FILE_MODE = "0770"      # spec, ResourceFile.fileMode

_BLOB_FAILURES = {403: ("BlobAccessDenied", "Access for one of the specified Azure Blob(s) is denied"),
                  404: ("BlobNotFound", "One of the specified Azure Blob(s) is not found")}
_BLOB_OTHER = ("BlobDownloadMiscError",
               "Miscellaneous error encountered while downloading one of the specified Azure Blob(s)")
_CONTAINER_FAILURES = {403: ("ResourceContainerAccessDenied",
                             "Access for one of the specified Azure Container(s) is denied"),
                       404: ("ResourceContainerNotFound", "One of the specified Azure Container(s) is not found")}
_CONTAINER_OTHER = ("ResourceContainerListMiscError",
                    "Miscellaneous error encountered while listing one of the specified Azure Container(s)")


def _inside(working_dir, relative_path):
    target = os.path.normpath(os.path.join(working_dir, relative_path))
    if os.path.commonpath([working_dir, target]) != working_dir:
        raise PreProcessingError("ResourceFileCreateFailed", "The resource file path leaves the task "
                                 "working directory", [("FilePath", relative_path)])
    return target


def _fetch(url, target, file_mode):
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        blob_storage.download(url, target)
        os.chmod(target, int(file_mode, 8))
    except blob_storage.BlobError as failure:
        code, message = _BLOB_FAILURES.get(failure.status, _BLOB_OTHER)
        raise PreProcessingError(code, message, [("FilePath", target), ("BlobSource", redact_url(url)),
                                                 ("Message", str(failure))]) from None
    except OSError as failure:
        raise PreProcessingError("ResourceFileWriteFailed", "The compute node could not write a resource "
                                 "file", [("FilePath", target), ("Message", str(failure))]) from None


def download_resource_files(resource_files, working_dir, is_cancelled):
    """Fetches every resource file; raises PreProcessingError on the first failure."""
    for resource_file in resource_files:
        if is_cancelled():
            return
        mode = resource_file.get("fileMode", DEFAULT_FILE_MODE)
        if "httpUrl" in resource_file:
            _fetch(resource_file["httpUrl"], _inside(working_dir, resource_file["filePath"]), mode)
            continue
        container_url = resource_file["storageContainerUrl"]
        directory = _inside(working_dir, resource_file.get("filePath", "."))
        try:
            names = blob_storage.list_blob_names(container_url, resource_file.get("blobPrefix"))
        except blob_storage.BlobError as failure:
            code, message = _CONTAINER_FAILURES.get(failure.status, _CONTAINER_OTHER)
            raise PreProcessingError(code, message, [("ContainerUrl", redact_url(container_url)),
                                                     ("Message", str(failure))]) from None
        for name in names:
            if is_cancelled():
                return
            if not name.endswith("/"):
                _fetch(blob_storage.blob_url(container_url, name), _inside(directory, name), mode)
