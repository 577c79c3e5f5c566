"""The webhook under attack, on loopback, in bounded time.

One webhook per build serves the whole suite, started with the Helm chart's own default flags
(threads, connection limit, body limit, buffered-bytes budget) so that what holds here holds for
an install; only the timeouts are shortened to keep the suite quick. After every attack a normal
review must be answered exactly as before the attacks began, and at the end the peak RSS of the
shipped (static, optimised) build must be under the chart's memory limit. README.md
("Reliability") lists each attack and what held.
"""
import json
import os
import random
import socket
import ssl
import threading
import time

import pytest

from attack_support import (chart_server_flags, chart_memory_limit_bytes, cpu_seconds,
                            open_idle_connections, peak_rss_bytes, post_head, review_of_size,
                            rss_bytes, status_of)

HEADER_TIMEOUT_S = 2
BODY_TIMEOUT_S = 4


@pytest.fixture(scope="module")
def target(attack_build, attack_tls_files):
    """The webhook under attack and the answer it gives a normal review before any attack."""
    from webhook_process import WebhookProcess
    cert, key, ca = attack_tls_files
    webhook = WebhookProcess(attack_build.binary, cert, key, ca, *chart_server_flags(),
                             "--header-timeout", str(HEADER_TIMEOUT_S),
                             "--body-timeout", str(BODY_TIMEOUT_S), "--idle-timeout", "60")
    webhook.normal_review = review_of_size(0)
    webhook.normal_answer = webhook.review(webhook.normal_review)
    assert webhook.normal_answer["response"]["allowed"] and webhook.normal_answer["response"]["patch"]
    yield webhook
    webhook.assert_clean_exit(webhook.stop())


@pytest.fixture(autouse=True)
def still_answers_a_normal_review(target):
    """After each attack: a normal review on a new connection gets the same answer as before."""
    yield
    deadline = time.monotonic() + 10
    while True:
        try:
            answer = target.review(target.normal_review)
            break
        except (OSError, AssertionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert answer == target.normal_answer


def answered_within(target, seconds: float) -> float:
    """Seconds a new client waits for a normal review's answer; fails past `seconds`."""
    started = time.monotonic()
    conn = target.http(timeout=seconds)
    try:
        assert target.review(target.normal_review, conn=conn) == target.normal_answer
    finally:
        conn.close()
    took = time.monotonic() - started
    assert took < seconds, f"a normal review took {took:.2f}s during the attack"
    return took


def test_slowloris_heads_a_byte_at_a_time(target):
    """300 connections each trickle a request head, one TLS record per byte, until the header
    timeout: normal reviews are answered meanwhile within 1 s, the webhook's CPU stays small,
    and every trickling connection is closed (408) at its header timeout."""
    socks = [target.connect() for _ in range(300)]
    for sock in socks:
        sock.sendall(b"POST /mutate HTTP/1.1\r\nHost: webhook\r\nX-Pad: ")
    cpu_before = cpu_seconds(target.process.pid)
    records = 0
    stop = threading.Event()

    def trickle():
        nonlocal records
        while not stop.is_set():
            for sock in socks:
                try:
                    sock.send(b"a")
                    records += 1
                except OSError:
                    pass  # closed at its header timeout: that is the point

    trickler = threading.Thread(target=trickle)
    trickler.start()
    try:
        ends = time.monotonic() + HEADER_TIMEOUT_S + 1
        while time.monotonic() < ends:
            answered_within(target, 1.0)
            time.sleep(0.2)
    finally:
        stop.set()
        trickler.join()
    cpu = cpu_seconds(target.process.pid) - cpu_before
    assert records > 5000
    assert cpu < 0.002 * records + 1, f"{cpu:.2f}s of CPU for {records} one-byte records"
    closed = 0
    for sock in socks:
        sock.settimeout(5)
        try:
            data = sock.recv(4096)
            closed += not data or status_of(data) == 408
        except OSError:
            closed += 1
        sock.close()
    assert closed == len(socks)


def test_idle_connections_at_the_limit_never_lock_clients_out(target):
    """The connection limit's worth of idle keep-alive connections (1,024 with the chart's
    defaults), some of them waking up to send a request while new clients keep arriving: new
    clients and the kubelet's readiness probe are still answered within 1 s, by closing the
    oldest idle connection each time (a closed connection's own pending event included)."""
    limit = int(dict(flag.split("=", 1) for flag in chart_server_flags())["--max-connections"])
    held = open_idle_connections(target, limit)
    stop = threading.Event()

    def wake_the_oldest():
        for sock in held:  # oldest first: the ones new clients push out
            if stop.is_set():
                return
            try:
                sock.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
            except OSError:
                pass  # already closed to make room

    waker = threading.Thread(target=wake_the_oldest)
    waker.start()
    try:
        for _ in range(20):
            answered_within(target, 1.0)
            status, _, _ = target.request("GET", "/readyz")
            assert status == 200
    finally:
        stop.set()
        waker.join()
        for sock in held:
            sock.close()


def test_slow_large_bodies_are_held_within_the_budget(target):
    """30 clients each send a 3 MiB review slowly: the budget holds a few, the rest are refused
    at their head with 503 and Retry-After (the API server retries), never an unbounded heap."""
    body = json.dumps(review_of_size(3 * 1024 * 1024 - 4096)).encode()
    statuses = []
    lock = threading.Lock()

    def send_slowly():
        sock = target.connect(timeout=20)
        try:
            sock.sendall(post_head(len(body)))
            for at in range(0, len(body), 256 * 1024):
                sock.sendall(body[at:at + 256 * 1024])
                time.sleep(0.1)
            status = status_of(sock.recv(4096))
        except OSError:
            status = "closed"
        finally:
            sock.close()
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=send_slowly) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses.count(200) >= 1, statuses
    refused = [s for s in statuses if s != 200]
    assert refused and set(refused) <= {503, "closed"}, statuses
    assert statuses.count(503) >= 1, statuses


def test_connection_storms_leave_no_memory_behind(target, attack_build):
    """2,000 TLS connections opened (by 8 clients at once) and closed, twice: the webhook keeps
    answering and (in the shipped build) its memory goes back to what it was."""
    before = rss_bytes(target.process.pid)

    def storm():
        socks = []
        for _ in range(250):
            try:
                socks.append(target.connect(timeout=10))
            except OSError:
                pass  # refused at the limit: allowed
        for sock in socks:
            sock.close()

    for _ in range(2):
        threads = [threading.Thread(target=storm) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if attack_build.sanitized:
        return  # the sanitizer's allocator keeps freed memory in quarantine
    time.sleep(1.0)  # the worker threads give memory back on their next timer scan
    after = rss_bytes(target.process.pid)
    assert after < before + 8 * 1024 * 1024, f"RSS {before} -> {after} after the storms"


def test_oversized_and_malformed_heads(target):
    """Heads past the limit, too many headers, bad framing, garbage: each refused with its
    status and the connection closed, 50 of each from 10 clients at once."""
    cases = [
        (b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", 431),
        (b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(100)) + b"\r\n",
         431),
        (post_head(64 * 1024 * 1024), 413),
        (b"POST /mutate HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
        (b"POST /mutate HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\nHost: x\n\n", 400),
        (bytes(random.Random(7).getrandbits(8) for _ in range(3000)) + b"\r\n\r\n", 400),
    ]
    failures = []

    def client(seed):
        for head, status in random.Random(seed).choices(cases, k=50):
            sock = target.connect()
            try:
                sock.sendall(head)
                got = status_of(sock.recv(4096))
                if got != status:
                    failures.append((head[:40], status, got))
            except OSError as error:
                failures.append((head[:40], status, error))
            finally:
                sock.close()

    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


@pytest.mark.parametrize("name,body", [
    ("not JSON", b"\xff\xfe" * 1000),
    ("JSON but no review", b'{"kind":"Pod"}'),
    ("invalid UTF-8 in a string", b'{"kind":"AdmissionReview","request":{"uid":"\xc3\x28"}}'),
    ("a string of 3 MiB", b'{"a":"' + b"x" * (3 * 1024 * 1024 - 16) + b'"}'),
    ("tiny tokens to the limit", b"[" + b"0," * (3 * 1024 * 1024 // 2 - 8) + b"0]"),
])
def test_malformed_bodies_are_400(target, name, body):
    started = time.monotonic()
    status, _, data = target.request("POST", "/mutate", body)
    assert status == 400, (name, data[:200])
    assert json.loads(data)["kind"] == "Status"
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("opening,closing", [(b"[", b"]"), (b'{"a":', b"}")])
def test_deep_nesting_at_the_body_limit_is_refused_quickly(target, opening, closing):
    """A body of nothing but nesting, as large as allowed: refused in well under a second
    (the JSON reader's time is linear, its depth bounded), not after minutes."""
    count = (3 * 1024 * 1024 - 16) // (len(opening) + len(closing))
    body = opening * count + closing * count
    started = time.monotonic()
    status, _, data = target.request("POST", "/mutate", body)
    took = time.monotonic() - started
    assert status == 400 and b"nested deeper than" in data, data[:200]
    assert took < 2.0, f"{took:.2f}s"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_tls_downgrade_is_refused(target, attack_tls_files, version):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(str(attack_tls_files[2]))
    context.minimum_version = context.maximum_version = version
    context.set_ciphers("ALL:@SECLEVEL=0")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        target.connect(context=context).sendall(b"GET /healthz HTTP/1.1\r\n\r\n")


# RC4, DES and 3DES are missing too: this Python's OpenSSL cannot even offer them.
@pytest.mark.parametrize("ciphers", ["NULL:eNULL", "aRSA:kRSA:!AESGCM:!CHACHA20",
                                     "AES128-SHA:AES256-SHA"])
def test_weak_tls_1_2_ciphers_are_refused(target, attack_tls_files, ciphers):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(str(attack_tls_files[2]))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.set_ciphers(ciphers + ":@SECLEVEL=0")
    except ssl.SSLError:
        pytest.skip(f"this Python's OpenSSL offers none of {ciphers}")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        target.connect(context=context).sendall(b"GET /healthz HTTP/1.1\r\n\r\n")


def test_garbage_instead_of_a_tls_handshake(target):
    """Random bytes, plain HTTP, a ClientHello cut short or with a record length that lies:
    each connection is dropped at once, and counted as a failed handshake."""
    rng = random.Random(11)
    hello_prefix = bytes.fromhex("160301020001000200")  # record says 512 bytes, sends 4
    openings = [bytes(rng.getrandbits(8) for _ in range(n)) for n in (1, 5, 64, 4096)]
    openings += [b"GET /healthz HTTP/1.1\r\n\r\n", hello_prefix, bytes.fromhex("16030100ff01")]
    for opening in openings * 20:
        raw = socket.create_connection(("127.0.0.1", target.port), timeout=5)
        try:
            raw.sendall(opening)
            raw.shutdown(socket.SHUT_WR)
            while raw.recv(4096):
                pass  # an alert, perhaps; then the close
        except OSError:
            pass  # dropped before the shutdown or the read: as it should be
        finally:
            raw.close()
    from webhook_process import metric_value
    assert metric_value(target.metrics(), "batch_offload_webhook_tls_handshake_failures_total") \
        >= len(openings) * 20


def test_certificate_files_replaced_by_garbage(target, attack_tls_files):
    """The serving certificate and key overwritten with garbage: the reload fails, the previous
    pair stays in use, and the real pair is picked up again once restored."""
    cert, key, _ = attack_tls_files
    good_cert, good_key = cert.read_bytes(), key.read_bytes()
    start = len(target.lines)
    try:
        cert.write_bytes(b"-----BEGIN CERTIFICATE-----\n" + os.urandom(300) + b"\n")
        key.write_bytes(os.urandom(2000))
        target.wait_for_log(lambda e: e.get("msg", "").startswith("serving certificate reload "
                                                                   "failed"), start=start)
        answered_within(target, 1.0)
    finally:
        cert.write_bytes(good_cert)
        key.write_bytes(good_key)
    target.wait_for_log(lambda e: e.get("msg") == "serving certificate reloaded", start=start)


def test_peak_memory_stayed_under_the_chart_limit(target, attack_build):
    """Last: the highest RSS the webhook reached through every attack above."""
    if attack_build.sanitized:
        pytest.skip("RSS of a sanitizer build says nothing about the shipped one")
    peak, limit = peak_rss_bytes(target.process.pid), chart_memory_limit_bytes()
    print(f"peak RSS {peak / 2**20:.1f} MiB of the chart's {limit / 2**20:.0f} MiB limit")
    assert peak < limit
