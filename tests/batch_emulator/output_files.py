# Output files: what a node uploads to Blob storage after the task process exits (spec, OutputFile).
# filePattern is relative to the task working directory (wd/), so "../stdout.txt" is the task's
# stdout log; it may use * ? [abc] [!abc] within a name and ** for any number of directories; names
# starting with "." are matched only by a pattern component that starts with "."; $VAR and ${VAR}
# are expanded from the task environment first. Blob names (spec, OutputFileBlobContainerDestination.path):
#   no wildcard: path, or the file name when path is absent
#   wildcards:   path + "/" + the file's path below the pattern's fixed leading directories
# As on a node, each upload is logged to fileuploadout.txt / fileuploaderr.txt in the task directory.
import fnmatch
import os
import re

import blob_storage
from redaction import redact_url
from task_failure import failure_info

_WILDCARD = re.compile(r"[*?\[]")
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
_UPLOAD_FAILURES = {
    403: ("FileUploadAccessDenied", "Access was denied when trying to upload a file to an output destination"),
    404: ("FileUploadContainerNotFound", "The Azure Storage Container for uploading Output Files was not found"),
    409: ("FileUploadConflict", "There was a conflict encountered when uploading Output Files")}
_UPLOAD_OTHER = ("FileUploadMiscError", "The compute node hit an unexpected error when uploading Output Files")


def should_upload(condition, exit_code):
    return (condition == "taskcompletion" or (condition == "tasksuccess" and exit_code == 0)
            or (condition == "taskfailure" and exit_code != 0))


def _name_matches(name, pattern):
    if name.startswith(".") and not pattern.startswith("."):
        return False
    return fnmatch.fnmatchcase(name, pattern)


def _walk(directory, parts):
    head, rest = parts[0], parts[1:]
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError:
        return
    if head == "**":
        if rest:
            yield from _walk(directory, rest)
        else:
            yield from (entry.path for entry in entries if entry.is_file() and not entry.name.startswith("."))
        for entry in entries:
            if entry.is_dir(follow_symlinks=False) and not entry.name.startswith("."):
                yield from _walk(entry.path, parts)
        return
    for entry in entries:
        if not _name_matches(entry.name, head):
            continue
        if rest and entry.is_dir():
            yield from _walk(entry.path, rest)
        elif not rest and entry.is_file():
            yield entry.path


def matching_files(pattern, working_dir, environment):
    """[(local path, blob name suffix)] for a filePattern."""
    pattern = _VARIABLE.sub(lambda m: environment.get(m.group(1) or m.group(2), ""), pattern)
    parts = os.path.normpath(os.path.join(working_dir, pattern)).split("/")
    fixed_count = next((i for i, part in enumerate(parts) if _WILDCARD.search(part)), len(parts))
    base = "/".join(parts[:fixed_count]) or "/"
    if fixed_count == len(parts):
        return [(base, os.path.basename(base))] if os.path.isfile(base) else []
    found = dict.fromkeys(_walk(base, parts[fixed_count:]))
    return [(path, os.path.relpath(path, base)) for path in found]


def _blob_name(destination_path, suffix, has_wildcard):
    if not has_wildcard:
        return destination_path or suffix
    return f"{destination_path.rstrip('/')}/{suffix}" if destination_path else suffix


def upload_output_files(output_files, task_dir, working_dir, environment, exit_code):
    """Uploads what the conditions select; returns the failureInfo of the first failure, or None."""
    uploads = []
    for output_file in output_files:
        if should_upload(output_file["uploadOptions"]["uploadCondition"], exit_code):
            container = output_file["destination"]["container"]
            has_wildcard = bool(_WILDCARD.search(output_file["filePattern"]))
            uploads += [(container, path, _blob_name(container.get("path"), suffix, has_wildcard))
                        for path, suffix in matching_files(output_file["filePattern"], working_dir, environment)]
    if not uploads:
        return None
    first_failure = None
    with open(os.path.join(task_dir, "fileuploadout.txt"), "a") as out_log, \
            open(os.path.join(task_dir, "fileuploaderr.txt"), "a") as err_log:
        for container, path, name in uploads:
            headers = [(h["name"], h.get("value", "")) for h in container.get("uploadHeaders", [])]
            try:
                blob_storage.upload(container["containerUrl"], name, path, headers)
                out_log.write(f"Uploaded {path} to {redact_url(container['containerUrl'])} as {name}\n")
            except (blob_storage.BlobError, OSError) as failure:
                err_log.write(f"Failed to upload {path} as {name}: {redact_url(str(failure))}\n")
                code, message = _UPLOAD_FAILURES.get(getattr(failure, "status", 0), _UPLOAD_OTHER)
                first_failure = first_failure or failure_info(
                    code, message, [("FilePath", path), ("Message", redact_url(str(failure)))])
    return first_failure
