# Shared Key as the emulator checks it (docs/azure-facts.md section 5): requests signed by the tests' own signer
# are accepted; any changed byte, a wrong key or account, a stale or future ocp-date, a missing or
# foreign Authorization header gets 403 AuthenticationFailed.
import base64
import time
from email.utils import formatdate

from batch_emulator.testing import (batch, batch_signature, batch_string_to_sign,  # noqa: F401
                                    emulator)


def _assert_authentication_failed(reply):
    assert reply.status == 403, reply
    assert reply.error_code == "AuthenticationFailed"
    assert reply.json["values"][0]["key"] == "AuthenticationErrorDetail"


def test_string_to_sign_vector():
    headers = {"ocp-date": "Tue, 01 Jul 2025 12:00:00 GMT", "Content-Length": "0",
               "Content-Type": "application/json; odata=minimalmetadata; charset=utf-8",
               "client-request-id": "not-signed"}
    url = ("https://acct.westeurope.batch.azure.com/jobs/j%201/tasks?api-version=2025-06-01.21.0"
           "&%24filter=state%20eq%20%27completed%27&%24select=id,state&maxresults=10")
    assert batch_string_to_sign("acct", "POST", url, headers) == (
        "POST\n\n\n0\n\napplication/json; odata=minimalmetadata; charset=utf-8\n\n\n\n\n\n\n"
        "ocp-date:Tue, 01 Jul 2025 12:00:00 GMT\n"
        "/acct/jobs/j%201/tasks\n$filter:state eq 'completed'\n$select:id,state\n"
        "api-version:2025-06-01.21.0\nmaxresults:10")
    # The signature over that string, computed with `openssl dgst -sha256 -mac HMAC` and pinned here.
    key = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
    assert batch_signature(key, "acct", "POST", url, headers) == "9B7b1lnNU8fKYOQBG32X2DvSm6X23bY+78kzohDCyLY="


def test_signed_requests_with_query_body_and_encoded_path_are_accepted(batch):
    batch.create_job("job-a")
    assert batch.request("GET", "/jobs", query={"$filter": "id eq 'job-a'", "$select": "id",
                                                "maxresults": "5", "timeout": "30"}).status == 200
    assert batch.request("GET", "/jobs/job%2Da").status == 200     # signed path is the path as sent
    assert batch.request("POST", "/jobs/job-a/terminate").status == 202       # Content-Length: 0 is signed


def test_one_changed_byte_of_the_signature_is_refused(batch):
    date = formatdate(time.time(), usegmt=True)
    headers = {"ocp-date": date}
    signature = batch_signature(batch.key, batch.account, "GET", f"{batch.url}/jobs?api-version=2025-06-01.21.0",
                                headers)
    target = "/jobs?api-version=2025-06-01.21.0"
    good = batch.raw("GET", target, headers={**headers, "Authorization": f"SharedKey {batch.account}:{signature}"})
    assert good.status == 200
    tampered = signature[:5] + ("A" if signature[5] != "A" else "B") + signature[6:]
    _assert_authentication_failed(batch.raw("GET", target, headers={
        **headers, "Authorization": f"SharedKey {batch.account}:{tampered}"}))


def test_changes_after_signing_are_refused(batch):
    date = formatdate(time.time(), usegmt=True)
    url = f"{batch.url}/jobs?api-version=2025-06-01.21.0"
    authorization = f"SharedKey {batch.account}:{batch_signature(batch.key, batch.account, 'GET', url, {'ocp-date': date})}"
    _assert_authentication_failed(batch.raw("GET", "/jobs?api-version=2025-06-01.21.0&maxresults=3",
                                            headers={"ocp-date": date, "Authorization": authorization}))
    _assert_authentication_failed(batch.raw("GET", "/jobs?api-version=2025-06-01.21.0", headers={
        "ocp-date": formatdate(time.time() - 1, usegmt=True), "Authorization": authorization}))
    _assert_authentication_failed(batch.raw("GET", "/jobs?api-version=2025-06-01.21.0", headers={
        "ocp-date": date, "ocp-extra": "added", "Authorization": authorization}))


def test_wrong_key_account_scheme_or_no_authorization_are_refused(batch):
    wrong_key = base64.b64encode(b"not-the-key-of-this-account-at-all").decode()
    _assert_authentication_failed(batch.request("GET", "/jobs", key=wrong_key))
    _assert_authentication_failed(batch.request("GET", "/jobs", sign=False))
    _assert_authentication_failed(batch.request("GET", "/jobs", headers={"Authorization": "Bearer abc.def.ghi"},
                                                sign=False))
    other = batch.request("GET", "/jobs", sign=False, headers={
        "Authorization": f"SharedKey someoneelse:{batch_signature(batch.key, 'someoneelse', 'GET', batch.url, {})}"})
    _assert_authentication_failed(other)


def test_request_time_must_be_within_fifteen_minutes(batch):
    assert batch.request("GET", "/jobs", ocp_date=formatdate(time.time() - 14 * 60, usegmt=True)).status == 200
    _assert_authentication_failed(batch.request("GET", "/jobs", ocp_date=formatdate(time.time() - 16 * 60,
                                                                                     usegmt=True)))
    _assert_authentication_failed(batch.request("GET", "/jobs", ocp_date=formatdate(time.time() + 16 * 60,
                                                                                     usegmt=True)))
    _assert_authentication_failed(batch.request("GET", "/jobs", ocp_date="yesterday"))
