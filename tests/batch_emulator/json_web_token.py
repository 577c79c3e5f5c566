# JSON Web Tokens signed RS256 (RFC 7519, RFC 7515 compact serialization, RFC 7518 section 3.3:
# RSASSA-PKCS1-v1_5 with SHA-256), the only kind Entra ID issues and the emulator checks.
import base64
import json

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class MalformedToken(ValueError):
    """Not three base64url parts with a JSON header and JSON object claims."""


class BadSignature(ValueError):
    """Not RS256, or the signature does not verify with the key."""


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text):
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise MalformedToken("a token part is not base64url") from None


def encode(header, claims, private_key):
    signing_input = f"{b64url(json.dumps(header, separators=(',', ':')).encode())}." \
                    f"{b64url(json.dumps(claims, separators=(',', ':')).encode())}"
    signature = private_key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def decode(token):
    """(header, claims, signing input, signature) of a compact JWS, without checking the signature."""
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedToken("a JWT has three dot-separated parts")
    try:
        header = json.loads(_b64url_decode(parts[0]))
        claims = json.loads(_b64url_decode(parts[1]))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise MalformedToken("the JWT header or claims are not JSON") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise MalformedToken("the JWT header and claims must be JSON objects")
    return header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), _b64url_decode(parts[2])


def verified_claims(token, public_key):
    """The claims of an RS256 token whose signature verifies with public_key (an RSA public key)."""
    header, claims, signing_input, signature = decode(token)
    if header.get("alg") != "RS256" or not isinstance(public_key, rsa.RSAPublicKey):
        raise BadSignature(f"unsupported algorithm {header.get('alg')!r}")
    try:
        public_key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise BadSignature("the signature does not verify") from None
    return claims
