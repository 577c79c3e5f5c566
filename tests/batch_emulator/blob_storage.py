# The few Blob service REST calls a Batch node makes with the SAS URLs it is given: List Blobs on a
# container URL, Get Blob on a blob URL and Put Blob (block blob) into a container URL. Nothing is
# signed here: the SAS in the URL is the only credential, exactly as on a node, so an expired,
# mis-scoped or under-privileged SAS fails the way it does on Azure.
import shutil
import urllib.error
import urllib.request
import xml.etree.ElementTree as ElementTree
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from redaction import redact_url

BLOB_API_VERSION = "2021-12-02"     # x-ms-version sent with every call; Azurite 3.35 accepts it
TIMEOUT_SECONDS = 60
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))   # talk to storage directly


class BlobError(Exception):
    """A Blob service call that failed: HTTP status (0 if unreachable) and x-ms-error-code."""

    def __init__(self, status, error_code, url, detail=""):
        super().__init__(f"{status} {error_code} {redact_url(url)} {detail}".strip())
        self.status = status
        self.error_code = error_code
        self.url = url


def _with_query(url, extra):
    parts = urlsplit(url)
    query = "&".join(part for part in (parts.query, urlencode(extra, quote_via=quote)) if part)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def blob_url(container_url, blob_name):
    """The URL of blob_name inside the container a (SAS) container URL names, keeping its SAS."""
    parts = urlsplit(container_url)
    path = parts.path.rstrip("/") + "/" + quote(blob_name, safe="/~")
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def _send(request):
    request.add_header("x-ms-version", BLOB_API_VERSION)
    try:
        return _opener.open(request, timeout=TIMEOUT_SECONDS)
    except urllib.error.HTTPError as failure:
        code = failure.headers.get("x-ms-error-code", "")
        failure.close()
        raise BlobError(failure.code, code, request.full_url) from None
    except OSError as failure:
        raise BlobError(0, "", request.full_url, str(failure)) from None


def list_blob_names(container_url, prefix=None):
    """Names of the blobs in the container (optionally under prefix), following NextMarker pages."""
    names, marker = [], None
    while True:
        query = {"restype": "container", "comp": "list"}
        if prefix:
            query["prefix"] = prefix
        if marker:
            query["marker"] = marker
        with _send(urllib.request.Request(_with_query(container_url, query))) as response:
            listing = ElementTree.fromstring(response.read())
        names += [element.text for element in listing.iterfind("./Blobs/Blob/Name")]
        marker = listing.findtext("NextMarker")
        if not marker:
            return names


def download(url, destination):
    with _send(urllib.request.Request(url)) as response, open(destination, "wb") as target:
        shutil.copyfileobj(response, target)


def upload(container_url, blob_name, source_path, extra_headers=()):
    """Put Blob: one PUT of the whole file as a block blob."""
    with open(source_path, "rb") as source:
        size = source.seek(0, 2)
        source.seek(0)
        request = urllib.request.Request(blob_url(container_url, blob_name), data=source, method="PUT")
        request.add_header("Content-Length", str(size))
        request.add_header("x-ms-blob-type", "BlockBlob")
        request.add_header("Content-Type", "application/octet-stream")
        for name, value in extra_headers:
            request.add_header(name, value)
        _send(request).close()
