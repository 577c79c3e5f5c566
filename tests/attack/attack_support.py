"""What the attacks are made of: the chart's own webhook flags and memory limit, reviews of a
given size, idle connections by the thousand, and the attacked process's RSS and CPU."""
import copy
import json
import os
import re
from pathlib import Path

from admission_fixtures import load_fixture
from helm_chart import find, render
# The chart's flags that say where to listen and what to serve: the test sets its own.
PLACE_FLAGS = ("--listen=", "--tls-cert=", "--tls-key=")

_chart_container = None


def chart_container() -> dict:
    """The webhook container the Helm chart renders with its default values."""
    global _chart_container
    if _chart_container is None:
        [_chart_container] = find(render(), "Deployment")["spec"]["template"]["spec"]["containers"]
    return _chart_container


def chart_server_flags() -> list:
    """The chart's webhook flags, without where to listen and what to serve."""
    return [arg for arg in chart_container()["args"] if not arg.startswith(PLACE_FLAGS)]


def chart_memory_limit_bytes() -> int:
    limit = chart_container()["resources"]["limits"]["memory"]
    number, unit = re.fullmatch(r"(\d+)(Ki|Mi|Gi)", limit).groups()
    return int(number) * {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}[unit]


def review_of_size(size: int) -> dict:
    """The kubectl-job review, its worker given env entries until its JSON is about `size`
    bytes (0: the review as it is)."""
    review = load_fixture("kubectl-job")
    if size == 0:
        return review
    grown = copy.deepcopy(review)
    container = grown["request"]["object"]["spec"]["template"]["spec"]["containers"][0]
    entry_size = len(json.dumps({"name": "V000000", "value": "x" * 64})) + 2
    base = len(json.dumps(review))
    container["env"] = [{"name": f"V{i:06d}", "value": "x" * 64}
                        for i in range(max(0, (size - base) // entry_size))]
    return grown


def post_head(body_len: int, extra: str = "") -> bytes:
    return (f"POST /mutate?timeout=10s HTTP/1.1\r\nHost: webhook\r\n"
            f"Content-Type: application/json\r\n{extra}Content-Length: {body_len}\r\n\r\n").encode()


def status_of(answer: bytes) -> int:
    """The status code of an HTTP answer (ValueError when there is none)."""
    if not answer.startswith(b"HTTP/1.1 "):
        raise ValueError(f"not an HTTP answer: {answer[:60]!r}")
    return int(answer[9:12])


def open_idle_connections(webhook, count: int) -> list:
    """count keep-alive connections, each after one request: idle, as the API server's are."""
    held = []
    for _ in range(count):
        sock = webhook.connect()
        sock.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
        if status_of(sock.recv(4096)) != 200:
            raise AssertionError("a probe was not answered while connections were opened")
        held.append(sock)
    return held


def _status_field(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(name)


def rss_bytes(pid: int) -> int:
    return _status_field(pid, "VmRSS")


def peak_rss_bytes(pid: int) -> int:
    return _status_field(pid, "VmHWM")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
