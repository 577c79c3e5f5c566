# Request authentication: one verifier per Authorization scheme the account allows (Shared Key,
# Entra ID Bearer tokens); a known scheme the account does not allow is refused as such.
#
# Shared Key as Batch checks it (docs/azure-facts.md section 5, learn.microsoft.com/rest/api/batchservice/
# authenticate-requests-to-the-azure-batch-service, and @azure/batch 10.2.0's BatchSharedKeyCredentials):
#   Authorization: SharedKey <account>:<base64(HMAC-SHA256(base64decode(key), UTF-8 StringToSign))>
#   StringToSign = VERB \n Content-Encoding \n Content-Language \n Content-Length \n Content-MD5 \n
#                  Content-Type \n Date \n If-Modified-Since \n If-Match \n If-None-Match \n
#                  If-Unmodified-Since \n Range \n CanonicalizedHeaders CanonicalizedResource
#   - Content-Length is the header as sent; unlike Storage, Batch keeps "0".
#   - CanonicalizedHeaders: every ocp-* header with a value, name lowercased, sorted, "name:value\n".
#   - CanonicalizedResource: "/" + account + the path as sent, then "\nname:value" for each query
#     parameter sorted by name, names and values URL-decoded (names are not lowercased).
#   - The request time (ocp-date, else Date) must be within 15 minutes of the server's clock.
#
# Bearer (learn.microsoft.com/azure/batch/batch-aad-auth): Authorization: Bearer <access token> from
# Entra ID for the resource https://batch.core.windows.net/. Refusals are 401 AuthenticationFailed with
# the message and AuthenticationErrorDetail the service sends for a wrong audience ("It should exactly
# match (including forward slash)", AzureAD/microsoft-authentication-library-for-js#1735,
# Azure/azure-sdk-for-net#8026); the details for other refusals were not found and are marked (guess).
import base64
import hashlib
import hmac
import time
from email.utils import parsedate_to_datetime

import json_web_token
from errors import BatchError

MAX_CLOCK_SKEW_SECONDS = 15 * 60
BATCH_AUDIENCE = "https://batch.core.windows.net/"
# Choice: tokens are accepted this long after exp. Stricter than services built on Microsoft.IdentityModel
# (5 minutes by default), so that tests with short token lifetimes see expired tokens refused quickly.
TOKEN_CLOCK_SKEW_SECONDS = 5
# Schemes a Batch account may allow (allowedAuthenticationModes): the canonical name for the refusal.
KNOWN_SCHEMES = {"sharedkey": "SharedKey", "bearer": "Bearer"}

_SIGNED_STANDARD_HEADERS = ("Content-Encoding", "Content-Language", "Content-Length", "Content-MD5",
                            "Content-Type", "Date", "If-Modified-Since", "If-Match", "If-None-Match",
                            "If-Unmodified-Since", "Range")


def authentication_failed(detail):
    return BatchError(403, "AuthenticationFailed", [("AuthenticationErrorDetail", detail)])


def shared_key_string_to_sign(request, account):
    lines = [request.method] + [request.header(name) for name in _SIGNED_STANDARD_HEADERS]
    ocp_headers = sorted((name.lower(), value) for name, value in request.headers.items()
                         if name.lower().startswith("ocp-") and value)
    canonical_headers = "".join(f"{name}:{value}\n" for name, value in ocp_headers)
    values_by_name = {}
    for name, value in request.query:
        values_by_name.setdefault(name, []).append(value)
    canonical_resource = f"/{account}{request.raw_path}" + "".join(
        f"\n{name}:{','.join(values_by_name[name])}" for name in sorted(values_by_name))
    return "\n".join(lines) + "\n" + canonical_headers + canonical_resource


class SharedKeyVerifier:
    scheme = "SharedKey"

    def __init__(self, account, base64_key):
        self.account = account
        self.key = base64.b64decode(base64_key)

    def verify(self, request, credentials):
        account, _, signature = credentials.partition(":")
        if account != self.account or not signature:
            raise authentication_failed(f"The account '{account}' in the Authorization header is not "
                                        f"this account or the signature is missing.")
        _check_request_time(request)
        string_to_sign = shared_key_string_to_sign(request, self.account)
        expected = base64.b64encode(hmac.new(self.key, string_to_sign.encode("utf-8"),
                                             hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(expected, signature):
            raise authentication_failed(
                f"The MAC signature found in the HTTP request '{signature}' is not the same as any "
                f"computed signature. Server used following string to sign: '{string_to_sign}'.")


def _check_request_time(request):
    stamp = request.header("ocp-date") or request.header("Date")
    if not stamp:
        raise authentication_failed("The request has neither an ocp-date nor a Date header.")
    try:
        sent = parsedate_to_datetime(stamp).timestamp()
    except (TypeError, ValueError):
        raise authentication_failed(f"The date header '{stamp}' is not an RFC 1123 date.") from None
    skew = time.time() - sent
    if skew > MAX_CLOCK_SKEW_SECONDS:
        raise authentication_failed(f"Request date header too old: '{stamp}'")
    if skew < -MAX_CLOCK_SKEW_SECONDS:
        raise authentication_failed(f"Request date header is in the future: '{stamp}'")


def token_refused(detail):
    return BatchError(401, "AuthenticationFailed", [("AuthenticationErrorDetail", detail)],
                      message="Server failed to authenticate the request. Make sure the value of Authorization "
                              "header is formed correctly.")


class BearerVerifier:
    scheme = "Bearer"

    def __init__(self, public_key):
        self.public_key = public_key        # the key of the emulator's TokenIssuer

    def verify(self, request, credentials):
        try:
            claims = json_web_token.verified_claims(credentials, self.public_key)
        except json_web_token.MalformedToken:
            raise token_refused("The access token is malformed.") from None                     # (guess)
        except json_web_token.BadSignature:
            raise token_refused("The access token signature is invalid.") from None             # (guess)
        if claims.get("aud") != BATCH_AUDIENCE:
            raise token_refused(f"The access token has been obtained from wrong audience or resource "
                                f"'{claims.get('aud')}'. It should exactly match (including forward slash) "
                                f"with one of the allowed audiences '{BATCH_AUDIENCE}'")
        if time.time() > claims.get("exp", 0) + TOKEN_CLOCK_SKEW_SECONDS:
            raise token_refused("Lifetime validation failed. The token is expired.")     # (guess: Storage's)


class Authenticator:
    """Dispatches on the Authorization scheme to the verifier registered for it."""

    def __init__(self, verifiers):
        self.verifiers = {verifier.scheme.lower(): verifier for verifier in verifiers}

    def authenticate(self, request):
        authorization = request.header("Authorization")
        scheme, _, credentials = authorization.partition(" ")
        verifier = self.verifiers.get(scheme.lower())
        if verifier is None and scheme.lower() in KNOWN_SCHEMES:
            # The service's detail when the account does not allow the mode (Azure/BatchExplorer#239).
            raise authentication_failed(f"The specified type of authentication {KNOWN_SCHEMES[scheme.lower()]} "
                                        f"is not allowed for this account.")
        if verifier is None:
            raise authentication_failed("The Authorization header is missing or uses an unsupported scheme.")
        verifier.verify(request, credentials.strip())
