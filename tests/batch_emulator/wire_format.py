# The formats the Batch service puts on the wire: timestamps, ETags, ISO 8601 durations,
# compact JSON and the OData metadata URLs that head every JSON body.
import json
import re
import threading
import time
import uuid
from datetime import datetime, timezone
from email.utils import formatdate

# .NET ticks (100 ns) at the Unix epoch: the service's ETags are "0x" + hex ticks.
_TICKS_AT_UNIX_EPOCH = 621355968000000000
_etag_lock = threading.Lock()
_last_etag_ticks = 0

# TimeSpan.MaxValue, which the service reports for "no limit" (Azure/azure-rest-api-specs#15198).
UNLIMITED_DURATION = "P10675199DT2H48M5.4775807S"

_DURATION = re.compile(
    r"^(?P<sign>-)?P(?!$)(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$")


def iso_time(epoch_seconds):
    """UTC timestamp with 7 fractional digits, as the service (a .NET DateTime) writes it."""
    moment = datetime.fromtimestamp(epoch_seconds, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def http_date(epoch_seconds):
    """RFC 1123 date for Last-Modified, Date and ocp-creation-time headers."""
    return formatdate(epoch_seconds, usegmt=True)


def new_etag():
    """A fresh, strictly increasing ETag in the service's 0x8D... form."""
    global _last_etag_ticks
    with _etag_lock:
        ticks = _TICKS_AT_UNIX_EPOCH + time.time_ns() // 100
        _last_etag_ticks = max(ticks, _last_etag_ticks + 1)
        return f"0x{_last_etag_ticks:X}"


def parse_duration(text):
    """Seconds in an ISO 8601 duration (days, hours, minutes, seconds), or None if malformed."""
    match = _DURATION.match(text)
    if match is None:
        return None
    seconds = sum(float(match.group(unit) or 0) * factor for unit, factor in
                  (("days", 86400), ("hours", 3600), ("minutes", 60), ("seconds", 1)))
    return -seconds if match.group("sign") else seconds


def json_bytes(document):
    return json.dumps(document, separators=(",", ":")).encode()


def metadata_url(base_url, fragment):
    """The "odata.metadata" value, e.g. https://acct.region.batch.azure.com/$metadata#jobs/@Element."""
    return f"{base_url}/$metadata#{fragment}"


def new_request_id():
    return str(uuid.uuid4())
