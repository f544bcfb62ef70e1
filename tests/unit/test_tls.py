"""Self-signed certificate generation and the server TLS context, over real handshakes."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import re
import socket
import ssl
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mixd.net.tls import certificate_fingerprint, ensure_certificate, server_ssl_context

TIMEOUT = 10.0
HOSTS = ["example.com", "chat.example.org", "127.0.0.1", "[::1]"]


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    return ensure_certificate(tmp_path / "data", HOSTS)


def test_generation_creates_files_with_private_key_mode(tmp_path: Path) -> None:
    cert, key = ensure_certificate(tmp_path / "data", HOSTS)
    assert cert == tmp_path / "data" / "tls" / "cert.pem"
    assert key == tmp_path / "data" / "tls" / "key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert cert.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert [p.name for p in cert.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_second_call_reuses_existing_pair(tmp_path: Path) -> None:
    cert, key = ensure_certificate(tmp_path, HOSTS)
    before = (cert.read_bytes(), key.read_bytes(), cert.stat().st_mtime_ns)
    again = ensure_certificate(tmp_path, ["other.example"])
    assert again == (cert, key)
    assert (cert.read_bytes(), key.read_bytes(), cert.stat().st_mtime_ns) == before


def test_missing_key_regenerates_both(tmp_path: Path) -> None:
    cert, key = ensure_certificate(tmp_path, HOSTS)
    old = cert.read_bytes()
    key.unlink()
    ensure_certificate(tmp_path, HOSTS)
    assert key.exists()
    assert cert.read_bytes() != old


def test_certificate_contents(pair: tuple[Path, Path]) -> None:
    cert = x509.load_pem_x509_certificate(pair[0].read_bytes())
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    assert [a.value for a in cn] == ["example.com"]
    assert cert.issuer == cert.subject
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(san.get_values_for_type(x509.DNSName)) == sorted(
        ["example.com", "*.example.com", "chat.example.org", "*.chat.example.org"]
    )
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca is False
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert isinstance(public.curve, ec.SECP256R1)
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert datetime.timedelta(days=3650) <= lifetime <= datetime.timedelta(days=3660)
    now = datetime.datetime.now(datetime.UTC)
    assert cert.not_valid_before_utc <= now <= cert.not_valid_after_utc
    key = serialization.load_pem_private_key(pair[1].read_bytes(), password=None)
    assert key.public_key() == public


def test_fingerprint_is_sha256_of_der(pair: tuple[Path, Path]) -> None:
    der = x509.load_pem_x509_certificate(pair[0].read_bytes()).public_bytes(
        serialization.Encoding.DER
    )
    fp = certificate_fingerprint(pair[0])
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", fp)
    assert fp.replace(":", "").lower() == hashlib.sha256(der).hexdigest()


def test_context_settings(pair: tuple[Path, Path]) -> None:
    ctx = server_ssl_context(*pair, "1.2")
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    for flag in (ssl.OP_NO_COMPRESSION, ssl.OP_NO_RENEGOTIATION, ssl.OP_CIPHER_SERVER_PREFERENCE):
        assert ctx.options & flag == flag
    assert ctx.verify_mode == ssl.CERT_NONE
    assert server_ssl_context(*pair, "1.3").minimum_version == ssl.TLSVersion.TLSv1_3
    with pytest.raises(ValueError, match=r"1\.1"):
        server_ssl_context(*pair, "1.1")


class _Result:
    def __init__(self) -> None:
        self.version: str | None = None
        self.error: BaseException | None = None


@contextmanager
def _serve_once(ctx: ssl.SSLContext) -> Iterator[tuple[int, _Result]]:
    """Accept one TLS connection in a thread, answer 'ping' with 'pong', record the outcome."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT)
    result = _Result()

    def run() -> None:
        try:
            conn, _ = listener.accept()
            conn.settimeout(TIMEOUT)
            with ctx.wrap_socket(conn, server_side=True) as tls:
                result.version = tls.version()
                if tls.recv(4) == b"ping":
                    tls.sendall(b"pong")
        except (OSError, ssl.SSLError) as exc:
            result.error = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], result
    finally:
        thread.join(TIMEOUT)
        listener.close()
        assert not thread.is_alive(), "server thread did not finish"


def _handshake(port: int, client: ssl.SSLContext, server_hostname: str | None = None) -> str:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw,
        client.wrap_socket(raw, server_hostname=server_hostname) as tls,
    ):
        tls.sendall(b"ping")
        assert tls.recv(4) == b"pong"
        version = tls.version()
        assert version is not None
        return version


def _tls11_client() -> ssl.SSLContext:
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    client.minimum_version = ssl.TLSVersion.TLSv1_1
    client.maximum_version = ssl.TLSVersion.TLSv1_1
    client.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 otherwise refuses TLS 1.1 itself
    return client


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_tls11_client_is_refused(pair: tuple[Path, Path]) -> None:
    # Control: the client really can speak TLS 1.1 to a server that allows it, so the
    # refusal below is the server's doing and not this OpenSSL build's.
    lax = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    lax.minimum_version = ssl.TLSVersion.TLSv1_1
    lax.set_ciphers("DEFAULT:@SECLEVEL=0")
    lax.load_cert_chain(*pair)
    try:
        with _serve_once(lax) as (port, _):
            assert _handshake(port, _tls11_client()) == "TLSv1.1"
    except (ssl.SSLError, OSError) as exc:
        pytest.skip(f"this OpenSSL cannot negotiate TLS 1.1 at all: {exc}")

    with (
        _serve_once(server_ssl_context(*pair, "1.2")) as (port, result),
        pytest.raises(ssl.SSLError),
    ):
        _handshake(port, _tls11_client())
    assert isinstance(result.error, ssl.SSLError)
    assert result.version is None


def _trusting_client(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


@pytest.mark.parametrize("hostname", ["example.com", "muc.chat.example.org", "127.0.0.1"])
def test_verified_handshake_against_generated_cert(pair: tuple[Path, Path], hostname: str) -> None:
    with _serve_once(server_ssl_context(*pair, "1.2")) as (port, result):
        version = _handshake(port, _trusting_client(pair[0]), server_hostname=hostname)
    assert version in ("TLSv1.2", "TLSv1.3")
    assert result.error is None and result.version == version


def test_hostname_outside_san_is_rejected(pair: tuple[Path, Path]) -> None:
    with (
        _serve_once(server_ssl_context(*pair, "1.2")) as (port, _),
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        _handshake(port, _trusting_client(pair[0]), server_hostname="example.net")


def test_tls12_client_accepted_by_default_but_not_with_min_13(pair: tuple[Path, Path]) -> None:
    client = _trusting_client(pair[0])
    client.maximum_version = ssl.TLSVersion.TLSv1_2
    with _serve_once(server_ssl_context(*pair, "1.2")) as (port, _):
        assert _handshake(port, client, server_hostname="example.com") == "TLSv1.2"
    with (
        _serve_once(server_ssl_context(*pair, "1.3")) as (port, result),
        pytest.raises(ssl.SSLError),
    ):
        _handshake(port, client, server_hostname="example.com")
    assert isinstance(result.error, ssl.SSLError)
