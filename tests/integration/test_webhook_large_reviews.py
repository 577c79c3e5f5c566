"""Real reviews past the first read and past the first buffer: 40 KB (an ordinary Job with a
long environment), 1 MiB and just under --max-body-bytes, each sent in one write and in TLS
records of one byte, answered exactly as a small one would be: allowed, with the patch the
same review gets however it arrives."""
import json

import pytest

from admission_fixtures import load_fixture

MAX_BODY = 3 * 1024 * 1024  # the webhook's default --max-body-bytes


def review_of_size(size: int) -> bytes:
    """The kubectl-job review, its worker given env entries until its JSON is `size` bytes."""
    review = load_fixture("kubectl-job")
    container = review["request"]["object"]["spec"]["template"]["spec"]["containers"][0]
    container["env"] = []
    body = json.dumps(review).encode()
    entry = {"name": "V000000", "value": "x" * 60}
    count = (size - len(body)) // (len(json.dumps(entry)) + 2)
    container["env"] = [{"name": f"V{i:06d}", "value": "x" * 60} for i in range(count)]
    body = json.dumps(review).encode()
    container["env"][0]["value"] += "y" * (size - len(body))  # exactly `size`
    body = json.dumps(review).encode()
    assert len(body) == size
    return body


def send_in_records(webhook, head: bytes, body: bytes, record: int, byte_by_byte: slice):
    """Sends head and body over one connection: `byte_by_byte` of the body (and all of the head)
    one TLS record per byte, the rest in records of `record` bytes. Returns the answer."""
    sock = webhook.connect(timeout=120)
    try:
        for i in range(len(head)):
            sock.send(head[i:i + 1])
        start, stop = byte_by_byte.indices(len(body))[:2]
        for at in range(0, start, record):
            sock.sendall(body[at:min(at + record, start)])
        for at in range(start, stop):
            sock.send(body[at:at + 1])
        for at in range(stop, len(body), record):
            sock.sendall(body[at:at + record])
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)
        head_end = answer.index(b"\r\n\r\n") + 4
        length = int(answer.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        while len(answer) < head_end + length:
            answer += sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
        return json.loads(answer[head_end:head_end + length])
    finally:
        sock.close()


def post_head(length: int) -> bytes:
    return (b"POST /mutate?timeout=10s HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % length)


# Whole bodies one byte per record take a minute under the sanitizers past 40 KB, so the larger
# ones go one byte per record over their first and last 64 KiB (the head, the buffer's growth,
# the end of the body) and in 1,000-byte records in between.
@pytest.mark.parametrize("size,byte_by_byte", [
    (40 * 1024, slice(None)),
    (1024 * 1024, slice(0, 64 * 1024)),
    (1024 * 1024, slice(-64 * 1024, None)),
    (MAX_BODY - 1, slice(0, 64 * 1024)),
    (MAX_BODY - 1, slice(-64 * 1024, None)),
], ids=["40KB-all", "1MiB-start", "1MiB-end", "limit-start", "limit-end"])
def test_large_reviews_are_answered_however_they_arrive(webhook, size, byte_by_byte):
    body = review_of_size(size)
    whole = webhook.review(json.loads(body))  # one write
    assert whole["response"]["allowed"] is True and whole["response"]["patch"]
    cut = send_in_records(webhook, post_head(len(body)), body, 1000, byte_by_byte)
    assert cut == whole


def test_a_review_just_over_the_limit_is_413(webhook):
    body = review_of_size(MAX_BODY + 1)
    status, _, data = webhook.request("POST", "/mutate", body)
    assert status == 413, data[:200]
