"""Look at certificates the way a TLS client would: chain verification by the openssl CLI,
names and usages by python3-cryptography."""
import subprocess
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID


def load_certificate(pem) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem if isinstance(pem, bytes) else pem.encode())


def openssl_verify(ca_pem: bytes, cert_pem: bytes) -> subprocess.CompletedProcess:
    """`openssl verify -CAfile ca -purpose sslserver cert`: returncode 0 when the chain holds."""
    with tempfile.TemporaryDirectory() as work:
        ca_file, cert_file = Path(work) / "ca.pem", Path(work) / "cert.pem"
        ca_file.write_bytes(ca_pem)
        cert_file.write_bytes(cert_pem)
        return subprocess.run(["openssl", "verify", "-CAfile", str(ca_file), "-purpose", "sslserver",
                               str(cert_file)], capture_output=True, text=True, timeout=60)


def dns_names(cert: x509.Certificate) -> list:
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)


def ip_addresses(cert: x509.Certificate) -> list:
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]


def has_server_auth(cert: x509.Certificate) -> bool:
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    return ExtendedKeyUsageOID.SERVER_AUTH in usages


def is_ca(cert: x509.Certificate) -> bool:
    return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def key_matches_certificate(key_pem: bytes, cert: x509.Certificate) -> bool:
    key = serialization.load_pem_private_key(key_pem, password=None)
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    return key.public_key().public_bytes(encoding, public) == cert.public_key().public_bytes(encoding, public)
