"""The branch's own certificate authority and the broker's TLS certificate.

One CA per branch, made once for the installer and kept by them (its key never goes to a
device or the broker host); the broker's certificate names the hosts devices connect to.
Keys are EC P-256: small, and fast on a Raspberry Pi. The certificates follow the rules
that strict verifiers apply (Python 3.13's default X509_STRICT): a critical
basicConstraints and key usages on the CA, key identifiers on both.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from nowserving.errors import ProvisionError

CA_YEARS = 20
SERVER_DAYS = 5 * 365
RENEW_DAYS = 90  # a broker certificate closer than this to its end is made again


def _crypto():
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError as err:
        raise ProvisionError(
            "provisioning needs the cryptography package: pip install 'nowserving[provision]'"
        ) from err
    return x509, hashes, serialization, ec, ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Authority:
    """A CA: its certificate and key, as PEM bytes."""

    cert_pem: bytes
    key_pem: bytes


def make_authority(name: str, now: dt.datetime | None = None) -> Authority:
    """A new self-signed CA called `name`."""
    x509, hashes, serialization, ec, _, NameOID = _crypto()
    now = now or dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(x509, cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Authority(
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def issue_server_certificate(
    ca: Authority, hosts: list[str], now: dt.datetime | None = None
) -> tuple[bytes, bytes]:
    """(certificate, key) as PEM for a TLS server reached as any of `hosts` (names or IPs)."""
    x509, hashes, serialization, ec, ExtendedKeyUsageOID, NameOID = _crypto()
    now = now or dt.datetime.now(dt.UTC)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(x509, cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(_names(x509, hosts)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def certificate_fits(
    cert_path: Path, ca: Authority, hosts: list[str], now: dt.datetime | None = None
) -> bool:
    """Whether the certificate at `cert_path` was issued by `ca`, names exactly `hosts`
    and is not near its end: then re-running keeps it."""
    x509, *_ = _crypto()
    from cryptography.exceptions import InvalidSignature

    if not cert_path.is_file():
        return False
    now = now or dt.datetime.now(dt.UTC)
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    try:
        cert.verify_directly_issued_by(ca_cert)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, x509.ExtensionNotFound, InvalidSignature):
        return False
    return set(sans) == set(_names(x509, hosts)) and (
        cert.not_valid_after_utc - now > dt.timedelta(days=RENEW_DAYS)
    )


def _usage(x509, cert_sign: bool):
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _names(x509, hosts: list[str]) -> list:
    names = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names
