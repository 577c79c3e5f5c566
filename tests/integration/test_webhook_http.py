"""The webhook's HTTP and TLS behaviour over real TLS on loopback: every
status it answers, keep-alive and pipelining, limits and timeouts, slow
clients, TLS versions, probes, metrics and the per-request log line."""
import json
import socket
import ssl
import threading
import time

import pytest

from admission_fixtures import load_fixture
from webhook_process import metric_value


def raw_exchange(webhook, data: bytes, timeout=5.0, read_until_close=True):
    """Sends bytes over a fresh TLS connection, returns everything answered."""
    sock = webhook.connect(timeout=timeout)
    sock.sendall(data)
    chunks = []
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            if not read_until_close:
                break
    except (socket.timeout, ssl.SSLError, ConnectionResetError):
        pass
    sock.close()
    return b"".join(chunks)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def post_head(length: int, extra: str = "", path: str = "/mutate?timeout=10s") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n{extra}\r\n").encode()


def test_mutate_with_query_string_and_keep_alive(webhook):
    review = load_fixture("kubectl-job")
    conn = webhook.http()
    for i in range(5):  # one connection, several reviews, as the API server does
        review["request"]["uid"] = f"uid-{i}"
        status, headers, body = webhook.request("POST", "/mutate?timeout=10s", review, conn=conn)
        assert status == 200
        assert headers["content-type"] == "application/json"
        assert headers["connection"] == "keep-alive"
        assert json.loads(body)["response"]["uid"] == f"uid-{i}"
    conn.close()
    assert metric_value(webhook.metrics(), "batch_offload_webhook_connections_accepted_total") <= 3


def test_pipelined_requests_are_answered_in_order(webhook):
    bodies = []
    for i in range(3):
        review = load_fixture("no-annotations")
        review["request"]["uid"] = f"p{i}"
        bodies.append(json.dumps(review).encode())
    data = b"".join(post_head(len(b)) + b for b in bodies)
    data += b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    out = raw_exchange(webhook, data)
    assert out.count(b"HTTP/1.1 200 OK") == 4
    assert out.index(b'"uid":"p0"') < out.index(b'"uid":"p1"') < out.index(b'"uid":"p2"')
    assert out.endswith(b"ok\n")


@pytest.mark.parametrize("method,path,status,allow", [
    ("GET", "/mutate", 405, "POST"),
    ("PUT", "/mutate", 405, "POST"),
    ("POST", "/healthz", 405, "GET, HEAD"),
    ("DELETE", "/metrics", 405, "GET, HEAD"),
    ("GET", "/nope", 404, None),
    ("GET", "/mutate/extra", 404, None),
])
def test_wrong_method_or_path(webhook, method, path, status, allow):
    code, headers, body = webhook.request(method, path)
    assert code == status
    assert headers.get("allow") == allow
    status_body = json.loads(body)
    assert status_body["kind"] == "Status" and status_body["code"] == status


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/jsonx",
                                          "application/yaml"])
def test_wrong_content_type_is_415(webhook, content_type):
    body = json.dumps(load_fixture("kubectl-job")).encode()
    headers = {"Content-Type": content_type} if content_type else {}
    conn = webhook.http()
    conn.putrequest("POST", "/mutate")
    for k, v in headers.items():
        conn.putheader(k, v)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    response = conn.getresponse()
    assert response.status == 415
    conn.close()


def test_content_type_with_parameters_is_accepted(webhook):
    status, _, _ = webhook.request("POST", "/mutate", load_fixture("pod"),
                                   headers={"Content-Type": "Application/JSON; charset=utf-8"})
    assert status == 200


@pytest.mark.parametrize("body,fragment", [
    (b"{not json", b"invalid JSON at byte"),
    (b"[1 2]", b"invalid JSON at byte"),
    (b'{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1"}', b"request is missing"),
    (b'{"kind":"Pod","apiVersion":"v1"}', b"apiVersion must be"),
    (b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":""}}',
     b"request.uid"),
    (b"", b"invalid JSON"),
])
def test_malformed_or_foreign_body_is_400(webhook, body, fragment):
    status, _, data = webhook.request("POST", "/mutate", body)
    assert status == 400
    assert fragment in data
    assert json.loads(data)["code"] == 400


def test_body_over_the_limit_is_413_before_it_is_sent(start_webhook):
    webhook = start_webhook("--max-body-bytes", "4096")
    out = raw_exchange(webhook, post_head(5000))  # head only: the answer must not wait
    assert status_of(out) == 413
    assert b"Connection: close" in out
    review = load_fixture("kubectl-job")
    body = json.dumps(review).encode()
    assert len(body) < 4096
    assert webhook.request("POST", "/mutate", body)[0] == 200


def test_default_body_limit_is_3_mib(webhook):
    assert status_of(raw_exchange(webhook, post_head(3 * 1024 * 1024 + 1))) == 413


def test_expect_100_continue(webhook):
    body = json.dumps(load_fixture("kubectl-job")).encode()
    sock = webhook.connect()
    sock.sendall(post_head(len(body), "Expect: 100-continue\r\n"))
    interim = sock.recv(100)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    sock.sendall(body)
    answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200 OK")
    sock.close()


@pytest.mark.parametrize("head,status", [
    (b"POST /mutate HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
    (b"POST /mutate HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
    (b"POST /mutate HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
    (b"POST /mutate HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n", 400),
    (b"GET /healthz HTTP/1.1\r\nBad Header: x\r\n\r\n", 400),
    (b"GET /healthz HTTP/1.1\nHost: x\n\n", 400),
    (b"GET  /healthz HTTP/1.1\r\n\r\n", 400),
    (b"GET /healthz HTTP/2.0\r\n\r\n", 400),
    (b"GET /healthz HTTP/1.1\r\nExpect: something\r\n\r\n", 417),
    (b"GET /healthz HTTP/1.1\r\n X-Folded: x\r\n\r\n", 400),
])
def test_bad_framing_is_refused_and_the_connection_closed(webhook, head, status):
    out = raw_exchange(webhook, head)
    assert status_of(out) == status
    assert b"Connection: close" in out


def test_oversized_head_is_431(webhook):
    head = b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
    assert status_of(raw_exchange(webhook, head)) == 431
    many = b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(100))
    assert status_of(raw_exchange(webhook, many + b"\r\n")) == 431


def test_http_1_0_closes_unless_asked_to_keep_alive(webhook):
    out = raw_exchange(webhook, b"GET /healthz HTTP/1.0\r\n\r\n")
    assert b"Connection: close" in out and out.endswith(b"ok\n")
    sock = webhook.connect()
    sock.sendall(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert b"Connection: keep-alive" in sock.recv(4096)
    sock.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
    assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    sock.close()


def test_probes_and_head(webhook):
    assert webhook.request("GET", "/healthz")[2] == b"ok\n"
    assert webhook.request("GET", "/readyz")[2] == b"ok\n"
    status, headers, body = webhook.request("HEAD", "/healthz")
    assert status == 200 and body == b"" and headers["content-length"] == "3"


def test_partial_head_times_out_with_408(webhook):
    started = time.monotonic()
    out = raw_exchange(webhook, b"POST /mutate HTTP/1.1\r\nHost: x\r\n", timeout=10)
    assert status_of(out) == 408
    assert 1.5 <= time.monotonic() - started < 6  # --header-timeout 2


def test_partial_body_times_out_with_408(webhook):
    out = raw_exchange(webhook, post_head(1000) + b'{"apiVersion"', timeout=10)
    assert status_of(out) == 408


def test_idle_keep_alive_connection_is_closed(webhook):
    sock = webhook.connect(timeout=10)
    sock.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
    assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    started = time.monotonic()
    assert sock.recv(4096) == b""  # --idle-timeout 3: closed without a word
    assert 2 <= time.monotonic() - started < 8
    sock.close()


def test_silent_client_never_finishing_the_handshake_is_dropped(webhook):
    raw = socket.create_connection(("127.0.0.1", webhook.port), timeout=10)
    started = time.monotonic()
    assert raw.recv(100) == b""
    assert time.monotonic() - started < 6
    raw.close()


def test_slow_clients_do_not_block_others(webhook):
    """Stalled clients hold connections open while others are answered at once."""
    stalled = []
    for _ in range(20):
        sock = webhook.connect()
        sock.sendall(post_head(5000) + b"{")  # body never finished
        stalled.append(sock)
    handshaking = [socket.create_connection(("127.0.0.1", webhook.port)) for _ in range(10)]
    review = load_fixture("kubectl-job")
    started = time.monotonic()
    for _ in range(10):
        assert webhook.review(review)["response"]["allowed"] is True
    assert time.monotonic() - started < 2.0
    for sock in stalled + handshaking:
        sock.close()


def test_many_concurrent_connections(webhook):
    review = load_fixture("kubectl-job")
    errors = []

    def client():
        try:
            conn = webhook.http()
            for _ in range(5):
                assert webhook.review(review, conn=conn)["response"]["allowed"]
            conn.close()
        except Exception as exc:  # collected and reported below
            errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    text = webhook.metrics()
    assert metric_value(text, "batch_offload_webhook_admission_requests_total",
                        'outcome="mutated"') == 500


def test_connection_limit_refuses_when_no_connection_is_idle(start_webhook):
    webhook = start_webhook("--max-connections", "4", "--threads", "1")
    held = [webhook.connect() for _ in range(4)]
    for sock in held:  # each in the middle of a request head: busy, so never reclaimed
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
    time.sleep(0.5)  # until the server has read them (unread, they would look idle)
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        extra = webhook.connect(timeout=5)
        extra.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
        if not extra.recv(4096):
            raise ConnectionError("closed")
    for sock in held:
        sock.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            assert webhook.request("GET", "/healthz")[0] == 200
            break
        except (ssl.SSLError, ConnectionError, OSError):
            time.sleep(0.1)
    assert metric_value(webhook.metrics(), "batch_offload_webhook_connections_rejected_total") >= 1


def test_connection_limit_closes_the_oldest_idle_connection_for_a_new_one(start_webhook):
    webhook = start_webhook("--max-connections", "4", "--threads", "1")
    held = []
    for _ in range(4):  # one request each, then idle keep-alive
        sock = webhook.connect()
        sock.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        held.append(sock)
    assert webhook.request("GET", "/healthz")[0] == 200
    held[0].settimeout(5)
    assert held[0].recv(4096) == b"", "the oldest idle connection was not the one closed"
    for sock in held[1:]:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        sock.close()
    text = webhook.metrics()
    assert metric_value(text, "batch_offload_webhook_connections_reclaimed_total") == 1
    assert metric_value(text, "batch_offload_webhook_connections_rejected_total") == 0


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated")
@pytest.mark.parametrize("version,accepted", [
    (ssl.TLSVersion.TLSv1_2, True),
    (ssl.TLSVersion.TLSv1_3, True),
    (ssl.TLSVersion.TLSv1_1, False),
])
def test_tls_versions(webhook, tls_files, version, accepted):
    context = ssl.create_default_context(cafile=str(tls_files[2]))
    if version < ssl.TLSVersion.TLSv1_2:
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.set_ciphers("ALL:@SECLEVEL=0")
    context.minimum_version = min(context.minimum_version, version)
    context.maximum_version = version
    if accepted:
        sock = webhook.connect(context=context)
        assert sock.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                                  ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
        sock.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        sock.close()
    else:
        # The server's protocol_version alert, not a client-side refusal.
        with pytest.raises(ssl.SSLError, match="PROTOCOL_VERSION"):
            webhook.connect(context=context)


def test_handshake_failures_are_logged_with_the_library_reason_once_a_second(start_webhook):
    webhook = start_webhook("--threads", "1")  # one worker: one rate limit to count against
    for _ in range(50):  # plain HTTP to the TLS port: the library's reason says so
        raw = socket.create_connection(("127.0.0.1", webhook.port), timeout=5)
        try:
            raw.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
            raw.recv(100)
        except OSError:
            pass  # reset rather than an alert: also a failed handshake
        raw.close()
    time.sleep(1.1)
    raw = socket.create_connection(("127.0.0.1", webhook.port), timeout=5)
    raw.sendall(b"\x16\x03\x01\x00\x05hello")  # one more, past the interval
    try:
        raw.recv(100)
    except OSError:
        pass
    raw.close()
    failures = webhook.wait_for_log(
        lambda e: e.get("msg") == "TLS handshake failed" and e.get("similar_not_logged", 0) > 0)
    logged = webhook.log_entries("TLS handshake failed")
    assert all(e["reason"] and e["peer"].startswith("127.0.0.1:") for e in logged)
    assert len(logged) <= 3, logged  # one line a second at most
    assert sum(e["similar_not_logged"] for e in logged) + len(logged) == 51
    assert failures["similar_not_logged"] < 51
    assert metric_value(webhook.metrics(), "batch_offload_webhook_tls_handshake_failures_total") >= 51


def test_alpn_agrees_only_to_http_1_1(webhook, tls_files):
    context = ssl.create_default_context(cafile=str(tls_files[2]))
    context.set_alpn_protocols(["http/1.1"])
    sock = webhook.connect(context=context)
    assert sock.selected_alpn_protocol() == "http/1.1"
    sock.close()
    context.set_alpn_protocols(["h2"])
    sock = webhook.connect(context=context)
    assert sock.selected_alpn_protocol() in (None, "http/1.1")
    sock.close()


def test_one_json_log_line_per_review_without_secrets(webhook):
    review = load_fixture("all-annotations")
    review["request"]["uid"] = "log-check-uid"
    webhook.review(review)
    entry = webhook.wait_for_log(lambda e: e.get("uid") == "log-check-uid")
    assert entry["msg"] == "admission"
    assert entry["namespace"] == "default" and entry["name"] == "mapreduce"
    assert entry["outcome"] == "mutated"
    assert isinstance(entry["duration_ms"], (int, float))
    assert "time" in entry and entry["level"] == "info"
    denied = load_fixture("kubectl-job")
    denied["request"]["uid"] = "denied-uid"
    denied["request"]["object"]["metadata"]["annotations"]["batch-offload.io/pool"] = "x y"
    webhook.review(denied)
    entry = webhook.wait_for_log(lambda e: e.get("uid") == "denied-uid")
    assert entry["outcome"] == "denied" and "batch-offload.io/pool" in entry["detail"]


def test_metrics_count_outcomes_with_the_api_server_buckets(webhook):
    webhook.review(load_fixture("kubectl-job"))
    webhook.review(load_fixture("no-annotations"))
    webhook.request("POST", "/mutate", b"{")
    text = webhook.metrics()
    name = "batch_offload_webhook_admission_requests_total"
    assert metric_value(text, name, 'outcome="mutated"') == 1
    assert metric_value(text, name, 'outcome="allowed"') == 1
    assert metric_value(text, name, 'outcome="invalid"') == 1
    assert metric_value(text, name, 'outcome="denied"') == 0
    histogram = "batch_offload_webhook_admission_duration_seconds_bucket"
    for bound in ("0.005", "0.025", "0.1", "0.5", "1", "2.5", "10", "25", "0.0001", "+Inf"):
        assert f'{histogram}{{outcome="mutated",le="{bound}"}}' in text
    assert metric_value(text, histogram, 'outcome="mutated",le="+Inf"') == 1
    assert metric_value(text, "batch_offload_webhook_http_responses_total", 'code="400"') == 1
    assert "# TYPE batch_offload_webhook_admission_duration_seconds histogram" in text
