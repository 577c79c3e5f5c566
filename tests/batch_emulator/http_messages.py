# One HTTP request and one response as the rest of the emulator sees them, independent of the server.
from dataclasses import dataclass, field
from urllib.parse import parse_qsl


@dataclass
class IncomingRequest:
    method: str
    raw_path: str               # the path exactly as sent (still percent-encoded), as Shared Key signs it
    raw_query: str
    headers: object             # email.message.Message: case-insensitive .get()
    body: bytes
    base_url: str               # scheme://host[:port] the client addressed, for URLs in responses
    request_id: str = ""
    query: list = field(init=False)   # decoded (name, value) pairs in request order

    def __post_init__(self):
        self.query = parse_qsl(self.raw_query, keep_blank_values=True)

    def query_value(self, name):
        """The first value of a query parameter, or None."""
        for key, value in self.query:
            if key == name:
                return value
        return None

    def header(self, name, default=""):
        value = self.headers.get(name)
        return default if value is None else value


@dataclass
class Response:
    status: int
    headers: dict = field(default_factory=dict)    # Content-Length here overrides len(body) (HEAD)
    body: bytes = b""


# Returned instead of a Response when the connection must be closed without an answer (faults).
DROP_CONNECTION = object()
