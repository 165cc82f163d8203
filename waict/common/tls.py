"""A local certificate authority for HTTPS on loopback (the demo, tests), made with
``cryptography``: one CA, and leaf certificates for the sample hosts signed by it.

Files in the CA directory::

    ca.pem  ca.key          the authority (P-256, self-signed, 10 years; key mode 0600)
    <name>.pem <name>.key   a leaf: its certificate followed by the CA's, and its key

Who trusts it:

- Chromium, by the leaf's key: ``--ignore-certificate-errors-spki-list=<spki_hash(leaf)>``
  (base64 SHA-256 of the SubjectPublicKeyInfo), no root store change;
- Python clients (httpx: the tools, the service's enrollment fetch, the witnesses) through
  ``SSL_CERT_FILE=<dir>/ca.pem``, or an :class:`ssl.SSLContext` from :func:`client_context`.

Servers take the leaf with ``--cert <name>.pem --key <name>.key`` (``waict serve-site``,
``serve-ts``, ``serve-witness``, ``serve-assets``). This is for loopback and tests: the CA key
sits next to the certificates, unencrypted.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import os
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from waict.common.errors import SiteToolError

CA_DAYS = 3650
LEAF_DAYS = 397  # what browsers accept for a leaf


@dataclass(frozen=True)
class Leaf:
    """A leaf certificate's files and the hash Chromium trusts it by."""

    cert: Path  # the leaf then the CA, PEM
    key: Path
    spki: str  # base64 SHA-256 of the leaf's SubjectPublicKeyInfo


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _load(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    try:
        cert = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
        key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), None)
    except (OSError, ValueError) as exc:
        raise SiteToolError(
            f"the certificate authority in {directory} is unusable: {exc}",
            "delete the directory to make a new one (and re-issue every leaf)",
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SiteToolError(f"{directory / 'ca.key'} is not an EC key")
    return cert, key


def ensure_ca(directory: Path, name: str = "WAICT local CA") -> Path:
    """The CA in ``directory`` (made when absent); returns the path of ``ca.pem``."""
    if (directory / "ca.pem").exists() and (directory / "ca.key").exists():
        _load(directory)
        return directory / "ca.pem"
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(directory / "ca.key", key)
    (directory / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return directory / "ca.pem"


def _san(names: Sequence[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def issue_leaf(directory: Path, label: str, names: Sequence[str]) -> Leaf:
    """A leaf for ``names`` (DNS names, ``*.`` wildcards, IP addresses) signed by the CA in
    ``directory`` (made when absent), written as ``<label>.pem`` / ``<label>.key``."""
    if not names:
        raise SiteToolError("a leaf certificate needs at least one host name or address")
    ensure_ca(directory)
    ca_cert, ca_key = _load(directory)
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(_san(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    leaf = Leaf(directory / f"{label}.pem", directory / f"{label}.key", spki_hash(cert))
    _write_key(leaf.key, key)
    leaf.cert.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + ca_cert.public_bytes(serialization.Encoding.PEM)
    )
    return leaf


def spki_hash(cert: x509.Certificate | Path) -> str:
    """base64 SHA-256 of the SubjectPublicKeyInfo (Chromium's
    ``--ignore-certificate-errors-spki-list``); a path names a PEM file (its first cert)."""
    if isinstance(cert, Path):
        cert = x509.load_pem_x509_certificate(cert.read_bytes())
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def client_context(ca_file: Path) -> ssl.SSLContext:
    """A client TLS context that trusts exactly the CA in ``ca_file``."""
    return ssl.create_default_context(cafile=str(ca_file))
