# Entra ID in the emulator: the token service (client secret, workload identity assertion, IMDS) with
# Entra's answers and refusals, Bearer tokens on Batch requests beside Shared Key, the official
# @azure/identity and @azure/batch clients against both (tests/node/entra_fidelity.js), and storage
# tokens that Azurite (--oauth basic, HTTPS) accepts for a user delegation key, whose user delegation
# SAS a task then uses to read its input and write its output.
import base64
import json
import os
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from batch_emulator.testing import (  # noqa: F401  (fixtures too)
    BATCH_RESOURCE, BATCH_SCOPE, CLIENT_SECRET, DEV_STORAGE_ACCOUNT, EMULATOR, KEY, NODE_DIR, PYTHON, SECRET_CLIENT,
    STORAGE_RESOURCE, STORAGE_SCOPE, TENANT, WORKLOAD_CLIENT, Azurite, Emulator, azurite_oauth, entra_emulator,
    entra_emulator_args, federated_issuer, imds_token, make_jwt, request_token, server_tls, token_claims,
    user_delegation_sas, wait_until)

WRONG_AUDIENCE = ("The access token has been obtained from wrong audience or resource '{}'. It should exactly "
                  "match (including forward slash) with one of the allowed audiences 'https://batch.core.windows.net/'")


@pytest.fixture
def client(entra_emulator, server_tls):
    """A Shared Key client of the Entra emulator (over HTTPS), with the emulator reset."""
    batch = entra_emulator.client(tls_context=server_tls.client_context())
    batch.control("POST", "reset")
    yield batch
    batch.close()


def bearer_client(entra_emulator, server_tls, token):
    return entra_emulator.client(tls_context=server_tls.client_context(), bearer_token=token)


def access_token(reply):
    assert reply.status == 200, reply
    return reply.json["access_token"]


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_with_jwks(client, token):
    """Checks the token's RS256 signature with the key the tenant publishes, independently of the emulator."""
    keys = client.raw("GET", f"/{TENANT}/discovery/v2.0/keys").json["keys"]
    header = json.loads(unb64url(token.split(".")[0]))
    assert header["alg"] == "RS256" and header["typ"] == "JWT"
    key = next(key for key in keys if key["kid"] == header["kid"])
    public_key = rsa.RSAPublicNumbers(int.from_bytes(unb64url(key["e"]), "big"),
                                      int.from_bytes(unb64url(key["n"]), "big")).public_key()
    signing_input, _, signature = token.rpartition(".")
    public_key.verify(unb64url(signature), signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())


def assert_entra_error(reply, status, error, code):
    assert reply.status == status, reply
    body = reply.json
    assert set(body) == {"error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id",
                         "error_uri"}
    assert body["error"] == error and body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert f"Trace ID: {body['trace_id']} Correlation ID: {body['correlation_id']} Timestamp: {body['timestamp']}" \
        in body["error_description"]
    assert time.strptime(body["timestamp"], "%Y-%m-%d %H:%M:%SZ")
    assert body["error_uri"] == f"https://login.microsoftonline.com/error?code={code}"
    return body["error_description"]


def assert_token_refused(reply, detail):
    assert reply.status == 401, reply
    assert reply.error_code == "AuthenticationFailed"
    assert reply.json["message"]["value"].startswith("Server failed to authenticate the request. Make sure the "
                                                     "value of Authorization header is formed correctly.\nRequestId:")
    assert reply.json["values"] == [{"key": "AuthenticationErrorDetail", "value": detail}]


# ----- the token service -----

def test_client_secret_grant_answers_like_entra_with_a_signed_v1_token(client):
    before = time.time()
    reply = request_token(client, SECRET_CLIENT, BATCH_SCOPE, secret=CLIENT_SECRET)
    assert reply.status == 200 and reply.headers["content-type"] == "application/json; charset=utf-8"
    assert reply.json["token_type"] == "Bearer" and reply.json["expires_in"] == reply.json["ext_expires_in"] == 3600
    assert set(reply.json) == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    token = reply.json["access_token"]
    verify_with_jwks(client, token)
    claims = token_claims(token)
    assert claims["aud"] == BATCH_RESOURCE and claims["iss"] == f"https://sts.windows.net/{TENANT}/"
    assert claims["tid"] == TENANT and claims["appid"] == SECRET_CLIENT and claims["appidacr"] == "1"
    assert claims["oid"] == claims["sub"] and claims["ver"] == "1.0" and claims["idtyp"] == "app"
    assert int(before) <= claims["iat"] == claims["nbf"] <= time.time() and claims["exp"] == claims["iat"] + 3600
    again = token_claims(access_token(request_token(client, SECRET_CLIENT, BATCH_SCOPE, secret=CLIENT_SECRET)))
    assert again["oid"] == claims["oid"] and again["uti"] != claims["uti"]         # same principal, new token
    assert client.control("GET", "stats")["tokens"] == {"client_secret": 2, "client_assertion": 0, "imds": 0}


def test_audience_is_the_scope_without_default(client):
    def audience(scope):
        return token_claims(access_token(request_token(client, SECRET_CLIENT, scope, secret=CLIENT_SECRET)))["aud"]

    assert audience(STORAGE_SCOPE) == STORAGE_RESOURCE
    assert audience("https://storage.azure.com//.default") == "https://storage.azure.com/"
    assert audience("https://batch.core.windows.net/.default") == "https://batch.core.windows.net"


def test_workload_identity_assertion_grant(client, federated_issuer):
    token = access_token(request_token(client, WORKLOAD_CLIENT, BATCH_SCOPE, assertion=federated_issuer.assertion()))
    claims = token_claims(token)
    assert claims["appid"] == WORKLOAD_CLIENT and claims["appidacr"] == "2" and claims["aud"] == BATCH_RESOURCE
    # The federated credential is trusted by every client, including one that also has a secret.
    assert request_token(client, SECRET_CLIENT, STORAGE_SCOPE, assertion=federated_issuer.assertion()).status == 200
    assert client.control("GET", "stats")["tokens"] == {"client_secret": 0, "client_assertion": 2, "imds": 0}


def test_imds_answers_with_strings_for_the_first_or_the_named_identity(client):
    reply = imds_token(client, BATCH_RESOURCE)
    assert reply.status == 200, reply
    body = reply.json
    assert set(body) == {"access_token", "client_id", "expires_in", "expires_on", "ext_expires_in", "not_before",
                         "resource", "token_type"}
    assert body["token_type"] == "Bearer" and body["resource"] == BATCH_RESOURCE and body["client_id"] == WORKLOAD_CLIENT
    claims = token_claims(body["access_token"])
    assert body["expires_in"] == "3600" and body["expires_on"] == str(claims["exp"])
    assert body["not_before"] == str(claims["nbf"]) and claims["appid"] == WORKLOAD_CLIENT
    named = imds_token(client, "https://storage.azure.com/", client_id=SECRET_CLIENT)
    assert token_claims(access_token(named))["appid"] == SECRET_CLIENT
    assert token_claims(named.json["access_token"])["aud"] == "https://storage.azure.com/"
    assert client.control("GET", "stats")["tokens"]["imds"] == 2


@pytest.mark.parametrize("form, status, error, code", [
    ({"secret": "not-the-secret"}, 401, "invalid_client", 7000215),
    ({"secret": None}, 401, "invalid_client", 7000218),
    ({"client_id": "00000000-0000-0000-0000-000000000000"}, 400, "unauthorized_client", 700016),
    ({"tenant": "11111111-2222-3333-4444-555555555555"}, 400, "invalid_request", 90002),
    ({"scope": "https://batch.core.windows.net//user_impersonation"}, 400, "invalid_scope", 1002012),
    ({"scope": f"{BATCH_SCOPE} {STORAGE_SCOPE}"}, 400, "invalid_scope", 70011),
    ({"scope": "https://vault.azure.net/.default"}, 400, "invalid_resource", 500011),
    ({"extra": {"grant_type": "password"}}, 400, "unsupported_grant_type", 70003),
    ({"scope": ""}, 400, "invalid_request", 900144),
], ids=["bad-secret", "no-credential", "unknown-client", "unknown-tenant", "not-default-scope", "two-scopes",
        "unknown-resource", "grant-type", "no-scope"])
def test_token_request_refusals(client, form, status, error, code):
    reply = request_token(client, form.get("client_id", SECRET_CLIENT), form.get("scope", BATCH_SCOPE),
                          secret=form.get("secret", CLIENT_SECRET),
                          tenant=form.get("tenant", TENANT), extra=form.get("extra"))
    assert_entra_error(reply, status, error, code)
    assert client.control("GET", "stats")["tokens"] == {"client_secret": 0, "client_assertion": 0, "imds": 0}


def test_refusal_texts_and_correlation_id(client):
    reply = client.raw("POST", f"/{TENANT}/oauth2/v2.0/token",
                       f"grant_type=client_credentials&client_id={SECRET_CLIENT}&scope={BATCH_SCOPE}"
                       f"&client_secret=wrong".encode(),
                       {"Content-Type": "application/x-www-form-urlencoded", "client-request-id": "corr-1"})
    text = assert_entra_error(reply, 401, "invalid_client", 7000215)
    assert reply.json["correlation_id"] == "corr-1"
    assert text.startswith(f"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the "
                           f"request is the client secret value, not the client secret ID, for a secret added to "
                           f"app '{SECRET_CLIENT}'.")
    assert_entra_error(client.raw("GET", f"/{TENANT}/oauth2/v2.0/token"), 400, "invalid_request", 900561)


NOW = int(time.time())


@pytest.mark.parametrize("change, code, status", [
    ({"iat": NOW - 3600, "nbf": NOW - 3600, "exp": NOW - 60}, 700024, 401),
    ({"nbf": NOW + 3600, "exp": NOW + 7200}, 700024, 401),
    ({"aud": ["api://SomethingElse"]}, 700212, 401),
    ({"sub": "system:serviceaccount:other:other"}, 700213, 401),
    ({"iss": "https://issuer.example/"}, 700211, 401),
    ({"foreign_key": True}, 700027, 401),
    ({"not_a_jwt": True}, 50027, 400),
], ids=["expired", "not-yet-valid", "audience", "subject", "issuer", "signature", "malformed"])
def test_assertion_refusals(client, federated_issuer, change, code, status):
    change = dict(change)
    if change.pop("not_a_jwt", False):
        assertion = "not-a-jwt"
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048) if change.pop("foreign_key", False) \
            else None
        assertion = federated_issuer.assertion(key=key, **change)
    text = assert_entra_error(request_token(client, WORKLOAD_CLIENT, BATCH_SCOPE, assertion=assertion), status,
                              "invalid_request" if status == 400 else "invalid_client", code)
    if code == 700024:
        assert "Client assertion is not within its valid time range. Current time: " in text
    if code in (700211, 700212, 700213):
        assert "No matching federated identity record found for presented assertion" in text


@pytest.mark.parametrize("request_options, error, description", [
    ({"metadata": False}, "invalid_request", "Required metadata header not specified"),
    ({"client_id": "00000000-0000-0000-0000-000000000000"}, "invalid_request", "Identity not found"),
    ({"resource": ""}, "invalid_request", "Required audience parameter not specified"),
], ids=["no-metadata-header", "unknown-identity", "no-resource"])
def test_imds_refusals(client, request_options, error, description):
    options = dict(request_options)
    reply = imds_token(client, options.pop("resource", BATCH_RESOURCE), **options)
    assert reply.status == 400 and reply.json == {"error": error, "error_description": description}


def test_imds_unknown_resource_and_wrong_metadata_value(client):
    reply = imds_token(client, "https://vault.azure.net")
    assert reply.status == 400 and reply.json["error"] == "invalid_resource"
    assert reply.json["error_description"].startswith("AADSTS500011: The resource principal named "
                                                      "https://vault.azure.net was not found")
    wrong = client.raw("GET", f"/metadata/identity/oauth2/token?api-version=2018-02-01&resource={BATCH_RESOURCE}",
                       headers={"Metadata": "True"})
    assert wrong.status == 400 and wrong.json["error_description"] == "Required metadata header not specified"


def test_openid_discovery_names_the_token_endpoint(client, entra_emulator):
    document = client.raw("GET", f"/{TENANT}/v2.0/.well-known/openid-configuration").json
    assert document["token_endpoint"] == f"{entra_emulator.url}/{TENANT}/oauth2/v2.0/token"
    assert document["jwks_uri"] == f"{entra_emulator.url}/{TENANT}/discovery/v2.0/keys"


# ----- Bearer tokens on Batch requests -----

def test_tokens_of_every_grant_drive_batch_operations(client, entra_emulator, server_tls, federated_issuer):
    tokens = [access_token(request_token(client, SECRET_CLIENT, BATCH_SCOPE, secret=CLIENT_SECRET)),
              access_token(request_token(client, WORKLOAD_CLIENT, BATCH_SCOPE, assertion=federated_issuer.assertion())),
              access_token(imds_token(client, BATCH_RESOURCE))]
    bearer_client(entra_emulator, server_tls, tokens[0]).create_pool("pool")
    for index, token in enumerate(tokens):
        batch = bearer_client(entra_emulator, server_tls, token)
        batch.create_job(f"job-{index}")
        batch.add_task(f"job-{index}", {"id": "t", "commandLine": "/bin/echo hi"})
        assert batch.wait_task_completed(f"job-{index}", "t")["executionInfo"]["exitCode"] == 0
        batch.close()
    assert client.get_job("job-0")["state"] == "active"         # Shared Key still accepted beside Bearer


def test_bearer_refusals(client, entra_emulator, server_tls):
    def jobs_with(token):
        batch = bearer_client(entra_emulator, server_tls, token)
        reply = batch.request("GET", "/jobs")
        batch.close()
        return reply

    storage = access_token(request_token(client, SECRET_CLIENT, STORAGE_SCOPE, secret=CLIENT_SECRET))
    assert_token_refused(jobs_with(storage), WRONG_AUDIENCE.format(STORAGE_RESOURCE))
    slashless = access_token(request_token(client, SECRET_CLIENT, "https://batch.core.windows.net/.default",
                                           secret=CLIENT_SECRET))
    refused = jobs_with(slashless)
    assert_token_refused(refused, WRONG_AUDIENCE.format("https://batch.core.windows.net"))
    assert "www-authenticate" not in refused.headers
    good = access_token(request_token(client, SECRET_CLIENT, BATCH_SCOPE, secret=CLIENT_SECRET))
    head, body, signature = good.split(".")
    tampered = f"{head}.{body}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"
    assert_token_refused(jobs_with(tampered), "The access token signature is invalid.")
    forged = make_jwt(token_claims(good), rsa.generate_private_key(public_exponent=65537, key_size=2048))
    assert_token_refused(jobs_with(forged), "The access token signature is invalid.")
    assert_token_refused(jobs_with("not-a-token"), "The access token is malformed.")
    assert jobs_with(good).status == 200


def test_expired_token_is_refused_and_a_fresh_one_accepted_with_bearer_only(tmp_path, server_tls, federated_issuer):
    emulator = Emulator(tmp_path / "emulator", extra_args=[*entra_emulator_args(server_tls, federated_issuer,
                                                                                token_lifetime=1), "--auth", "bearer"])
    try:
        client = emulator.client(tls_context=server_tls.client_context())
        shared_key = client.request("GET", "/jobs")
        assert shared_key.status == 403 and shared_key.json["values"] == [{
            "key": "AuthenticationErrorDetail",
            "value": "The specified type of authentication SharedKey is not allowed for this account."}]
        reply = request_token(client, SECRET_CLIENT, BATCH_SCOPE, secret=CLIENT_SECRET)
        assert reply.json["expires_in"] == 1
        batch = emulator.client(tls_context=server_tls.client_context(), bearer_token=access_token(reply))
        assert batch.request("GET", "/jobs").status == 200
        expires = token_claims(batch.bearer_token)["exp"]
        refused = wait_until(lambda: (lambda r: r if r.status != 200 else None)(batch.request("GET", "/jobs")), 20,
                             "the expired token to be refused")
        assert time.time() > expires + 4             # refused only after a few seconds of skew
        assert_token_refused(refused, "Lifetime validation failed. The token is expired.")
        batch.bearer_token = access_token(imds_token(client, BATCH_RESOURCE))
        assert batch.request("GET", "/jobs").status == 200
        assert client.control("GET", "stats")["tokens"] == {"client_secret": 1, "client_assertion": 0, "imds": 1}
        batch.close()
        client.close()
    finally:
        assert emulator.stop() == 0


def test_bearer_is_refused_as_a_mode_without_entra(tmp_path):
    emulator = Emulator(tmp_path / "emulator")
    try:
        reply = emulator.client().request("GET", "/jobs", sign=False, headers={"Authorization": "Bearer a.b.c"})
        assert reply.status == 403 and reply.json["values"][0]["value"] == \
            "The specified type of authentication Bearer is not allowed for this account."
        assert emulator.client().raw("POST", f"/{TENANT}/oauth2/v2.0/token").error_code == "InvalidUri"
    finally:
        assert emulator.stop() == 0


@pytest.mark.parametrize("arguments", [
    ["--entra-client", "x"], ["--entra-tenant", "t"], ["--auth", "bearer"], ["--auth", "basic"],
    ["--entra-tenant", "t", "--entra-client", "x", "--entra-federated-issuer", "https://i/"],
    ["--entra-tenant", "t", "--entra-client", "x", "--entra-token-lifetime", "0"],
], ids=["client-without-tenant", "tenant-without-client", "bearer-without-tenant", "unknown-scheme",
        "issuer-alone", "zero-lifetime"])
def test_inconsistent_entra_flags_are_refused(arguments):
    result = subprocess.run([PYTHON, str(EMULATOR), "--account", "a", "--key", KEY, *arguments],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "error:" in result.stderr


# ----- the official clients -----

@pytest.fixture(scope="module")
def sdk_report(entra_emulator, server_tls, federated_issuer, tmp_path_factory):
    token_file = tmp_path_factory.mktemp("workload") / "azure-identity-token"
    token_file.write_text(federated_issuer.assertion())
    environment = {**os.environ, "BATCH_URL": entra_emulator.url, "NODE_EXTRA_CA_CERTS": str(server_tls.ca),
                   "ENTRA_TENANT": TENANT, "SECRET_CLIENT": SECRET_CLIENT, "CLIENT_SECRET": CLIENT_SECRET,
                   "WORKLOAD_CLIENT": WORKLOAD_CLIENT, "FEDERATED_TOKEN_FILE": str(token_file)}
    finished = subprocess.run(["node", "entra_fidelity.js"], cwd=NODE_DIR, env=environment, capture_output=True,
                              text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout)


def test_azure_identity_gets_tokens_of_every_kind(sdk_report):
    assert sdk_report["clientSecret"] == {"aud": BATCH_RESOURCE, "appid": SECRET_CLIENT, "lifetimeSeconds": 3600}
    assert sdk_report["workloadIdentity"] == {"aud": STORAGE_RESOURCE, "appid": WORKLOAD_CLIENT, "lifetimeSeconds": 3600}
    managed = sdk_report["managedIdentity"]
    assert managed["aud"] == BATCH_RESOURCE and managed["appid"] == WORKLOAD_CLIENT
    assert 3590 <= managed["lifetimeSeconds"] <= 3600
    # MSAL parsed the error body: code, timestamp, description, trace and correlation ids.
    assert sdk_report["badSecret"]["message"].startswith("invalid_client: Error(s): 7000215 - Timestamp: ")
    assert "Description: AADSTS7000215: Invalid client secret provided." in sdk_report["badSecret"]["message"]


def test_azure_batch_sends_the_tokens_and_sees_refusals(sdk_report):
    assert sdk_report["batchScoped"] == {"state": "active"}
    assert sdk_report["batchStaticToken"] == {"jobs": ["entra-job"]}
    assert sdk_report["batchDefaultScope"] == {"statusCode": 401, "code": "AuthenticationFailed",
                                               "detail": WRONG_AUDIENCE.format("https://management.azure.com")}
    assert sdk_report["batchStorageToken"] == {"statusCode": 401, "code": "AuthenticationFailed",
                                               "detail": WRONG_AUDIENCE.format(STORAGE_RESOURCE)}


# ----- Storage: Azurite with OAuth, user delegation key and SAS -----

def test_azurite_accepts_emulator_storage_tokens_for_a_user_delegation_sas(client, azurite_oauth, federated_issuer):
    storage = azurite_oauth.storage()
    storage.create_container("udk-read")
    storage.put_blob("udk-read", "inputs/words.txt", b"alpha beta\n")
    token = access_token(request_token(client, WORKLOAD_CLIENT, STORAGE_SCOPE, assertion=federated_issuer.assertion()))
    key = storage.user_delegation_key(token)
    assert key["SignedOid"] == token_claims(token)["oid"] and key["SignedTid"] == TENANT
    assert key["SignedService"] == "b"
    sas = user_delegation_sas(DEV_STORAGE_ACCOUNT, key, "udk-read", "inputs/words.txt", "r")
    url = f"{azurite_oauth.blob_endpoint}/udk-read/inputs/words.txt?{sas}"
    assert storage.open(urllib.request.Request(url)).read() == b"alpha beta\n"
    with pytest.raises(urllib.error.HTTPError) as tampered:
        storage.open(urllib.request.Request(url.replace("sp=r", "sp=rw")))
    assert tampered.value.code == 403 and tampered.value.headers["x-ms-error-code"] == "AuthorizationFailure"
    with pytest.raises(urllib.error.HTTPError) as write:
        storage.open(urllib.request.Request(url, data=b"x", method="PUT", headers={"x-ms-blob-type": "BlockBlob"}))
    assert write.value.headers["x-ms-error-code"] == "AuthorizationPermissionMismatch"
    # The managed identity's token, for the resource IMDS names with a slash, does as well.
    assert storage.user_delegation_key(access_token(imds_token(client, "https://storage.azure.com/")))["Value"]


def test_azurite_refuses_a_batch_token_and_bearer_over_http(client, azurite_oauth, tmp_path):
    batch_token = access_token(request_token(client, SECRET_CLIENT, BATCH_SCOPE, secret=CLIENT_SECRET))
    with pytest.raises(urllib.error.HTTPError) as refused:
        azurite_oauth.storage().user_delegation_key(batch_token)
    assert refused.value.code == 403
    assert b"<AuthenticationErrorDetail>Invalid token audience.</AuthenticationErrorDetail>" in refused.value.read()
    storage_token = access_token(request_token(client, SECRET_CLIENT, STORAGE_SCOPE, secret=CLIENT_SECRET))
    plain = Azurite(tmp_path / "plain", oauth=True)          # starts, but refuses Bearer without TLS
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            plain.storage().user_delegation_key(storage_token)
        assert b"Authentication scheme Bearer is not allowed with HTTP." in refused.value.read()
    finally:
        plain.stop()


def test_task_reads_and_writes_blobs_with_user_delegation_sas(client, entra_emulator, server_tls, azurite_oauth,
                                                              federated_issuer):
    storage = azurite_oauth.storage()
    storage.create_container("udk-job")
    storage.put_blob("udk-job", "input/words.txt", b"one two\n")
    assertion = federated_issuer.assertion()
    key = storage.user_delegation_key(access_token(request_token(client, WORKLOAD_CLIENT, STORAGE_SCOPE,
                                                                 assertion=assertion)))
    read_url = (f"{azurite_oauth.blob_endpoint}/udk-job/input/words.txt?"
                f"{user_delegation_sas(DEV_STORAGE_ACCOUNT, key, 'udk-job', 'input/words.txt', 'r')}")
    write_url = (f"{azurite_oauth.blob_endpoint}/udk-job?"
                 f"{user_delegation_sas(DEV_STORAGE_ACCOUNT, key, 'udk-job', None, 'cw')}")
    batch = bearer_client(entra_emulator, server_tls,
                          access_token(request_token(client, WORKLOAD_CLIENT, BATCH_SCOPE, assertion=assertion)))
    batch.create_pool("pool")
    batch.create_job("udk")
    batch.add_task("udk", {
        "id": "upper", "commandLine": "/bin/sh -c 'tr a-z A-Z < words.txt > upper.txt'",
        "resourceFiles": [{"httpUrl": read_url, "filePath": "words.txt"}],
        "outputFiles": [{"filePattern": "upper.txt",
                         "destination": {"container": {"containerUrl": write_url, "path": "output/upper.txt"}},
                         "uploadOptions": {"uploadCondition": "tasksuccess"}}]})
    task = batch.wait_task_completed("udk", "upper")
    assert task["executionInfo"]["result"] == "success", task
    assert storage.get_blob("udk-job", "output/upper.txt") == b"ONE TWO\n"
    batch.close()
