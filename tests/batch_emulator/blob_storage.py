# The few Blob service REST calls a Batch node makes with the SAS URLs it is given: List Blobs on a
# container URL, Get Blob on a blob URL and Put Blob (block blob) into a container URL. Nothing is
# signed here: the SAS in the URL is the only credential, exactly as on a node, so an expired,
# mis-scoped or under-privileged SAS fails the way it does on Azure. Each node thread keeps its
# connections alive, as a node's storage client does.
import http.client
import shutil
import threading
import xml.etree.ElementTree as ElementTree
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from redaction import redact_url

BLOB_API_VERSION = "2021-12-02"     # x-ms-version sent with every call; Azurite 3.35 accepts it
TIMEOUT_SECONDS = 60
_per_thread = threading.local()


class BlobError(Exception):
    """A Blob service call that failed: HTTP status (0 if unreachable) and x-ms-error-code."""

    def __init__(self, status, error_code, url, detail=""):
        super().__init__(f"{status} {error_code} {redact_url(url)} {detail}".strip())
        self.status = status
        self.error_code = error_code


def _with_query(url, extra):
    parts = urlsplit(url)
    query = "&".join(part for part in (parts.query, urlencode(extra, quote_via=quote)) if part)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def blob_url(container_url, blob_name):
    """The URL of blob_name inside the container a (SAS) container URL names, keeping its SAS."""
    parts = urlsplit(container_url)
    path = parts.path.rstrip("/") + "/" + quote(blob_name, safe="/~")
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def _connection(parts, fresh):
    connections = _per_thread.__dict__.setdefault("connections", {})
    key = (parts.scheme, parts.netloc)
    if fresh and key in connections:
        connections.pop(key).close()
    if key not in connections:
        kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connections[key] = kind(parts.netloc, timeout=TIMEOUT_SECONDS)
    return connections[key]


def _request(method, url, consume, body=None, headers=None):
    """Sends one request and hands the response to consume(response) if it succeeded; raises BlobError.
    A kept-alive connection the server has closed meanwhile is replaced once."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {"x-ms-version": BLOB_API_VERSION, **(headers or {})}
    for fresh in (False, True):
        connection = _connection(parts, fresh)
        try:
            if body is not None:
                body.seek(0)
            connection.request(method, target, body=body, headers=headers)
            response = connection.getresponse()
            break
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as failure:
            if fresh:
                raise BlobError(0, "", url, str(failure)) from None
        except OSError as failure:
            _connection(parts, True)
            raise BlobError(0, "", url, str(failure)) from None
    try:
        if response.status >= 300:
            response.read()
            raise BlobError(response.status, response.getheader("x-ms-error-code", ""), url)
        return consume(response)
    finally:
        response.close()


def list_blob_names(container_url, prefix=None):
    """Names of the blobs in the container (optionally under prefix), following NextMarker pages."""
    names, marker = [], None
    while True:
        query = {"restype": "container", "comp": "list"}
        if prefix:
            query["prefix"] = prefix
        if marker:
            query["marker"] = marker
        listing = ElementTree.fromstring(_request("GET", _with_query(container_url, query), lambda r: r.read()))
        names += [element.text for element in listing.iterfind("./Blobs/Blob/Name")]
        marker = listing.findtext("NextMarker")
        if not marker:
            return names


def download(url, destination):
    def save(response):
        with open(destination, "wb") as target:
            shutil.copyfileobj(response, target)
    _request("GET", url, save)


def upload(container_url, blob_name, source_path, extra_headers=()):
    """Put Blob: one PUT of the whole file as a block blob."""
    with open(source_path, "rb") as source:
        size = source.seek(0, 2)
        headers = {"Content-Length": str(size), "x-ms-blob-type": "BlockBlob",
                   "Content-Type": "application/octet-stream", **dict(extra_headers)}
        _request("PUT", blob_url(container_url, blob_name), lambda response: response.read(), source, headers)
