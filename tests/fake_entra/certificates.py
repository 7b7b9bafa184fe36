"""A throw-away app certificate (self-signed) for client assertion tests."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


@dataclass
class AppCertificate:
    """PEM certificate and key, with the SHA-1 thumbprint the portal shows (hex)."""

    certificate_pem: str
    key_pem: str
    thumbprint: str


def make_app_certificate(common_name: str = "fake-entra-test-app") -> AppCertificate:
    """A 2048-bit RSA self-signed certificate valid for a day."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    return AppCertificate(cert.public_bytes(serialization.Encoding.PEM).decode(),
                          key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()).decode(),
                          cert.fingerprint(hashes.SHA1()).hex().upper())
