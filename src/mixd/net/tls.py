"""TLS for the listeners: a self-signed certificate so a fresh install works, and the
server SSLContext with the protocol floor and options every listener should share.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import tempfile
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["certificate_fingerprint", "ensure_certificate", "server_ssl_context"]

_VALIDITY = datetime.timedelta(days=3652)  # ten years, leap days included
_MIN_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address if host is an IP literal (IPv6 possibly in JID brackets), else None."""
    try:
        return ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
    except ValueError:
        return None


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Write via a temporary file and rename, so a crash never leaves half a PEM file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ensure_certificate(data_dir: Path, hosts: Sequence[str]) -> tuple[Path, Path]:
    """Return ``(cert, key)`` under ``<data_dir>/tls``, generating a self-signed pair once.

    An existing pair is reused as is (even if the hosts changed): delete both files to get
    a new one.
    """
    if not hosts:
        raise ValueError("at least one host is needed for the certificate")
    tls_dir = data_dir / "tls"
    cert_path, key_path = tls_dir / "cert.pem", tls_dir / "key.pem"
    if cert_path.is_file() and key_path.is_file():
        return cert_path, key_path
    tls_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        ip = _ip_literal(host)
        if ip is not None:
            names.append(x509.IPAddress(ip))
        else:
            names += [x509.DNSName(host), x509.DNSName(f"*.{host}")]
    first = hosts[0].removeprefix("[").removesuffix("]")
    subject = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, first if len(first) <= 64 else "mixd")]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # tolerate client clock skew
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
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
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Key first: whenever cert.pem exists, its key does too.
    _write_atomically(key_path, key_pem, 0o600)
    _write_atomically(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert_path, key_path


def server_ssl_context(cert: Path, key: Path, min_version: str) -> ssl.SSLContext:
    """The server context; min_version is "1.2" or "1.3" as in the [tls] section."""
    try:
        floor = _MIN_VERSIONS[min_version]
    except KeyError:
        raise ValueError(f"unsupported TLS minimum version {min_version!r}") from None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = floor
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.verify_mode = ssl.CERT_NONE  # clients authenticate with SASL, not certificates
    ctx.load_cert_chain(cert, key)
    return ctx


def certificate_fingerprint(cert: Path) -> str:
    """SHA-256 of the DER certificate as ``AB:CD:...``, for the start-up log."""
    loaded = x509.load_pem_x509_certificate(cert.read_bytes())
    return loaded.fingerprint(hashes.SHA256()).hex(":").upper()
