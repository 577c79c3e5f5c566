# Microsoft Entra ID token endpoints, served on the emulator's own port so a client's
# AZURE_AUTHORITY_HOST (and its IMDS address) can point at it:
#   POST /{tenant}/oauth2/v2.0/token                      client credentials grant, with a client secret or
#        a federated client assertion (workload identity)  (learn.microsoft.com/entra/identity-platform/
#        v2-oauth2-client-creds-grant-flow); answers {"token_type","expires_in","ext_expires_in","access_token"}
#   GET  /metadata/identity/oauth2/token?api-version=...&resource=...[&client_id=...], header Metadata: true
#        managed identity through IMDS (learn.microsoft.com/entra/identity/managed-identities-azure-resources/
#        how-to-use-vm-token); numbers in the answer are strings there
#   GET  /{tenant}/v2.0/.well-known/openid-configuration and /{tenant}/discovery/v2.0/keys
#        OpenID discovery and the signing key (JWKS), which MSAL reads before asking for a token
# Access tokens are v1.0 JWTs signed RS256 with a key made at start: aud (the resource), iss
# https://sts.windows.net/{tenant}/, iat, nbf, exp, appid, appidacr, idtyp, oid, sub, tid, uti, ver.
# Errors have Entra's shape {"error","error_description","error_codes","timestamp","trace_id",
# "correlation_id","error_uri"}; codes and texts are quoted from real answers (README.md lists the sources).
import hashlib
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import parse_qsl

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import json_web_token
from http_messages import Response
from wire_format import json_bytes

TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"    # what a federated assertion must be issued for
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEFAULT_SCOPE_SUFFIX = "/.default"
# The resources (App ID URIs) the emulated tenant knows. A client credentials scope is the URI plus
# "/.default" and the token's aud is the URI as asked, so "https://batch.core.windows.net//.default" gives
# aud "https://batch.core.windows.net/" and "https://batch.core.windows.net/.default" gives the slashless
# one, which Batch then refuses (Azure/azure-sdk-for-net#8026). Resource Manager is there because clients
# ask for it by mistake (@azure/batch 10.2.0 given an @azure/identity credential, Azure/azure-sdk-for-js#26244)
# and Batch refuses its tokens.
KNOWN_RESOURCES = frozenset({"https://batch.core.windows.net/", "https://batch.core.windows.net",
                             "https://storage.azure.com", "https://storage.azure.com/",
                             "https://management.azure.com/", "https://management.azure.com"})
_TOKEN_PATH = re.compile(r"^/([^/]+)/oauth2/v2\.0/token$")
_DISCOVERY_PATH = re.compile(r"^/([^/]+)/v2\.0/\.well-known/openid-configuration$")
_KEYS_PATH = re.compile(r"^/([^/]+)/discovery/v2\.0/keys$")
IMDS_PATH = "/metadata/identity/oauth2/token"


@dataclass
class FederatedCredential:
    """A federated identity credential: assertions from this issuer about this subject are trusted; the
    issuer's signing key stands in for the keys Entra would fetch from the issuer's OIDC discovery."""
    issuer: str
    subject: str
    public_key: object


@dataclass
class Directory:
    """The emulated tenant: its id, its applications (client id -> secret, or None for identities that
    only use assertions or IMDS) and the federated credential every application trusts. The first
    client is the system-assigned managed identity IMDS uses when no client_id is given."""
    tenant: str
    clients: dict
    federated: FederatedCredential = None


def object_id(tenant, client_id):
    """A stable service principal object id for the client (the oid and sub claims)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant}/{client_id}"))


class TokenIssuer:
    """Signs access tokens with a key of its own; BearerVerifier checks them with public_key."""

    def __init__(self, tenant, lifetime):
        self.tenant, self.lifetime = tenant, lifetime
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key = self._key.public_key()
        der = self.public_key.public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
        self.key_id = json_web_token.b64url(hashlib.sha1(der).digest())
        self.issuer = f"https://sts.windows.net/{tenant}/"

    def issue(self, client_id, resource, authentication):
        """(token, iat, exp). authentication: appidacr, "1" for a secret, "2" for an assertion or MSI."""
        now = int(time.time())
        oid = object_id(self.tenant, client_id)
        claims = {"aud": resource, "iss": self.issuer, "iat": now, "nbf": now, "exp": now + self.lifetime,
                  "appid": client_id, "appidacr": authentication, "idtyp": "app", "oid": oid, "sub": oid,
                  "tid": self.tenant, "uti": secrets.token_urlsafe(16), "ver": "1.0"}
        header = {"typ": "JWT", "alg": "RS256", "x5t": self.key_id, "kid": self.key_id}
        return json_web_token.encode(header, claims, self._key), now, now + self.lifetime

    def jwks(self):
        numbers = self.public_key.public_numbers()
        return {"keys": [{"kty": "RSA", "use": "sig", "kid": self.key_id, "x5t": self.key_id,
                          "n": json_web_token.b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
                          "e": json_web_token.b64url(numbers.e.to_bytes(3, "big"))}]}


@dataclass
class EntraError(Exception):
    status: int
    error: str
    code: int
    text: str


def _utc(epoch_seconds, fraction=True):
    moment = datetime.fromtimestamp(epoch_seconds, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z" if fraction else moment.strftime("%Y-%m-%d %H:%M:%SZ")


def _seconds(claim):
    """A NumericDate claim (RFC 7519 section 2) within years 1970-9999, or 0 when it is not a number."""
    return min(max(claim, 0), 253402300799) if isinstance(claim, (int, float)) and not isinstance(claim, bool) \
        else 0


def _json(status, document):
    return Response(status, {"Content-Type": "application/json; charset=utf-8",
                             "Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}, json_bytes(document))


class EntraService:
    def __init__(self, directory, issuer, stats):
        self.directory = directory
        self.issuer = issuer
        self.stats = stats

    def handle(self, request):
        """The answer to a request for an Entra or IMDS endpoint, or None for any other path."""
        path = request.raw_path
        if path == IMDS_PATH:
            return self._imds(request)
        for pattern, answer in ((_TOKEN_PATH, self._token), (_DISCOVERY_PATH, self._discovery),
                                (_KEYS_PATH, self._keys)):
            match = pattern.match(path)
            if match:
                try:
                    if match.group(1) != self.directory.tenant:
                        raise EntraError(400, "invalid_request", 90002, f"Tenant '{match.group(1)}' not found. "
                                         "Check to make sure you have the correct tenant ID and are signing into "
                                         "the correct cloud. Check with your subscription administrator, this may "
                                         "happen if there are no active subscriptions for the tenant.")
                    return answer(request)
                except EntraError as problem:
                    return self._error(request, problem)
        return None

    # ----- OpenID discovery -----

    def _discovery(self, request):
        """The discovery document's fields MSAL reads (authorization_endpoint is required there, though
        no interactive flow is served)."""
        base = f"{request.base_url}/{self.directory.tenant}"
        return _json(200, {"token_endpoint": f"{base}/oauth2/v2.0/token",
                           "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
                           "jwks_uri": f"{base}/discovery/v2.0/keys",
                           "id_token_signing_alg_values_supported": ["RS256"],
                           "issuer": f"{base}/v2.0",
                           "authorization_endpoint": f"{base}/oauth2/v2.0/authorize"})

    def _keys(self, _request):
        return _json(200, self.issuer.jwks())

    # ----- client credentials -----

    def _token(self, request):
        if request.method != "POST":
            raise EntraError(400, "invalid_request", 900561, f"The endpoint only accepts POST, OPTIONS "
                                                             f"requests. Received a {request.method} request.")
        form = {}
        for name, value in parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True):
            form.setdefault(name, value)
        for name in ("grant_type", "client_id", "scope"):
            if not form.get(name):
                raise EntraError(400, "invalid_request", 900144,
                                 f"The request body must contain the following parameter: '{name}'.")
        if form["grant_type"] != "client_credentials":
            raise EntraError(400, "unsupported_grant_type", 70003,
                             f"The app requested an unsupported grant type '{form['grant_type']}'.")
        client_id = form["client_id"]
        if client_id not in self.directory.clients:
            raise EntraError(400, "unauthorized_client", 700016,
                             f"Application with identifier '{client_id}' was not found in the directory "
                             f"'{self.directory.tenant}'. This can happen if the application has not been "
                             f"installed by the administrator of the tenant or consented to by any user in the "
                             f"tenant. You may have sent your authentication request to the wrong tenant.")
        if form.get("client_assertion") and form.get("client_assertion_type") == JWT_BEARER:
            self._check_assertion(form["client_assertion"])
            kind, authentication = "client_assertion", "2"
        elif form.get("client_secret"):
            if form["client_secret"] != self.directory.clients[client_id]:
                raise EntraError(401, "invalid_client", 7000215,
                                 f"Invalid client secret provided. Ensure the secret being sent in the request is "
                                 f"the client secret value, not the client secret ID, for a secret added to app "
                                 f"'{client_id}'.")
            kind, authentication = "client_secret", "1"
        else:
            raise EntraError(401, "invalid_client", 7000218, "The request body must contain the following "
                                                             "parameter: 'client_assertion' or 'client_secret'.")
        resource = self._resource_of_scope(form["scope"])
        token, issued, expires = self.issuer.issue(client_id, resource, authentication)
        self.stats.count_token(kind)
        return _json(200, {"token_type": "Bearer", "expires_in": expires - issued,
                           "ext_expires_in": expires - issued, "access_token": token})

    def _resource_of_scope(self, scope):
        scopes = scope.split()
        if len(scopes) != 1:
            raise EntraError(400, "invalid_scope", 70011, f"The provided value for the input parameter 'scope' "
                                                          f"is not valid. The scope {scope} is not valid.")
        if not scopes[0].endswith(DEFAULT_SCOPE_SUFFIX):
            raise EntraError(400, "invalid_scope", 1002012,
                             f"The provided value for scope {scope} is not valid. Client credential flows must "
                             f"have a scope value with /.default suffixed to the resource identifier (application "
                             f"ID URI).")
        return self._known_resource(scopes[0][:-len(DEFAULT_SCOPE_SUFFIX)])

    def _known_resource(self, resource):
        if resource not in KNOWN_RESOURCES:
            raise EntraError(400, "invalid_resource", 500011,
                             f"The resource principal named {resource} was not found in the tenant named "
                             f"{self.directory.tenant}. This can happen if the application has not been "
                             f"installed by the administrator of the tenant or consented to by any user in the "
                             f"tenant. You might have sent your authentication request to the wrong tenant.")
        return resource

    def _check_assertion(self, assertion):
        """A federated assertion (e.g. a projected service account token) as Entra checks it: a JWT from a
        trusted issuer, signed by that issuer, valid now, for api://AzureADTokenExchange, about the
        trusted subject."""
        see = " Please check your federated identity credential Subject, Audience and Issuer against the " \
              "presented assertion. https://docs.microsoft.com/en-us/azure/active-directory/develop/" \
              "workload-identity-federation"
        try:
            _header, claims, _input, _signature = json_web_token.decode(assertion)
        except json_web_token.MalformedToken:
            raise EntraError(400, "invalid_request", 50027, "JWT token is invalid or malformed.") from None
        federated = self.directory.federated
        if federated is None or claims.get("iss") != federated.issuer:
            raise EntraError(401, "invalid_client", 700211, f"No matching federated identity record found for "
                                                            f"presented assertion issuer '{claims.get('iss')}'.{see}")
        try:
            json_web_token.verified_claims(assertion, federated.public_key)
        except json_web_token.BadSignature:
            raise EntraError(401, "invalid_client", 700027, "Client assertion contains an invalid signature.") \
                from None
        now = time.time()
        valid_from, expires = _seconds(claims.get("nbf", claims.get("iat"))), _seconds(claims.get("exp"))
        if not valid_from <= now <= expires:
            raise EntraError(401, "invalid_client", 700024,
                             f"Client assertion is not within its valid time range. Current time: {_utc(now)}, "
                             f"assertion valid from {_utc(valid_from)}, expiry time of assertion {_utc(expires)}. "
                             f"Review the documentation at https://docs.microsoft.com/azure/active-directory/"
                             f"develop/active-directory-certificate-credentials .")
        audiences = claims.get("aud") if isinstance(claims.get("aud"), list) else [claims.get("aud")]
        if TOKEN_EXCHANGE_AUDIENCE not in audiences:
            raise EntraError(401, "invalid_client", 700212, f"No matching federated identity record found for "
                                                            f"presented assertion audience '{claims.get('aud')}'.{see}")
        if claims.get("sub") != federated.subject:
            raise EntraError(401, "invalid_client", 700213, f"No matching federated identity record found for "
                                                            f"presented assertion subject '{claims.get('sub')}'.{see}")

    def _error(self, request, problem):
        now = time.time()
        trace_id = str(uuid.uuid4())
        correlation_id = request.header("client-request-id") or str(uuid.uuid4())
        stamp = _utc(now, fraction=False)
        return _json(problem.status, {
            "error": problem.error,
            "error_description": f"AADSTS{problem.code}: {problem.text} Trace ID: {trace_id} "
                                 f"Correlation ID: {correlation_id} Timestamp: {stamp}",
            "error_codes": [problem.code], "timestamp": stamp, "trace_id": trace_id,
            "correlation_id": correlation_id, "error_uri": f"https://login.microsoftonline.com/error?code={problem.code}"})

    # ----- managed identity (IMDS) -----

    def _imds(self, request):
        def refuse(description, error="invalid_request"):
            return Response(400, {"Content-Type": "application/json; charset=utf-8"},
                            json_bytes({"error": error, "error_description": description}))

        if request.header("Metadata") != "true":
            return refuse("Required metadata header not specified")
        if not request.query_value("api-version"):
            return refuse("Required query variable 'api-version' is missing")
        resource = request.query_value("resource")
        if not resource:
            return refuse("Required audience parameter not specified")
        client_id = request.query_value("client_id") or next(iter(self.directory.clients))
        if client_id not in self.directory.clients:
            return refuse("Identity not found")
        try:
            self._known_resource(resource)
        except EntraError as problem:
            return refuse(f"AADSTS{problem.code}: {problem.text}", problem.error)
        token, issued, expires = self.issuer.issue(client_id, resource, "2")
        self.stats.count_token("imds")
        return Response(200, {"Content-Type": "application/json; charset=utf-8"}, json_bytes({
            "access_token": token, "client_id": client_id, "expires_in": str(expires - issued),
            "expires_on": str(expires), "ext_expires_in": str(expires - issued), "not_before": str(issued),
            "resource": resource, "token_type": "Bearer"}))
