"""The email sink over STARTTLS with SMTP AUTH, against a real local aiosmtpd server: a
self-signed certificate made here (cryptography), TLS required before AUTH, AUTH LOGIN and
AUTH PLAIN each offered alone. The password comes from the environment or from a secrets
file, and appears in no log, no error and no outbox row; an untrusted certificate stops the
delivery before any credential is sent; AUTH without STARTTLS is refused before connecting."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.alert_outbox import deliveries, drain, outbox_with_one_alert
from tests.support.uvicorn_server import free_port

USER = "alerts@healthlink.example"
PASSWORD = "smtp-secret-Zq8v-do-not-log"
MECHANISMS = ("LOGIN", "PLAIN")


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (the name the client checks), and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "healthlink test smtp")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class Mailbox:
    """What the server saw: AUTH attempts (mechanism, accepted) and mails (TLS, raw)."""

    auths: list[tuple[str, bool]] = field(default_factory=list)
    mails: list[tuple[bool, bytes]] = field(default_factory=list)

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        accepted = (
            isinstance(data, LoginPassword)
            and data.login == USER.encode()
            and data.password == PASSWORD.encode()
        )
        self.auths.append((mechanism, accepted))
        return AuthResult(success=accepted, handled=False)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append((session.ssl is not None, envelope.original_content))
        return "250 OK"


@dataclass
class SmtpServer:
    port: int
    ca_file: Path
    mailbox: Mailbox


@pytest.fixture(params=MECHANISMS)
def smtp_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SmtpServer]:
    """STARTTLS required; AUTH only after it, with one mechanism offered."""
    cert, key = _self_signed(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=tls,
        require_starttls=True,
        authenticator=mailbox.authenticate,
        auth_require_tls=True,
        auth_exclude_mechanism=[m for m in MECHANISMS if m != request.param],
    )
    controller.start()
    try:
        yield SmtpServer(controller.port, cert, mailbox)
    finally:
        controller.stop()


def _outbox(tmp_path: Path, registry: Path, server: SmtpServer, **smtp: Any) -> Any:
    defaults = {
        "alert_email_to": "ops@example.org",
        "smtp_host": "127.0.0.1",
        "smtp_port": server.port,
        "smtp_starttls": True,
        "smtp_ca_file": server.ca_file,
        "smtp_user": USER,
    }
    return outbox_with_one_alert(tmp_path / "home", registry, **{**defaults, **smtp})


def _printed(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> str:
    captured = capsys.readouterr()
    return captured.out + captured.err + caplog.text


def test_starttls_and_auth_deliver_with_the_password_from_the_environment(
    smtp_server: SmtpServer,
    small_dataset: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HEALTHLINK_SMTP_PASSWORD", PASSWORD)
    settings = _outbox(tmp_path, small_dataset / "registry", smtp_server)

    assert drain(settings) == {"sent": 1, "failed": 0, "dead": 0}

    mailbox = smtp_server.mailbox
    assert [accepted for _, accepted in mailbox.auths] == [True]
    assert mailbox.auths[0][0] in MECHANISMS
    [(over_tls, raw)] = mailbox.mails
    assert over_tls
    mail = message_from_bytes(raw)
    assert mail["To"] == "ops@example.org" and mail["Subject"].startswith("[Health Link] ")
    assert PASSWORD not in raw.decode("utf-8", "replace")


def test_the_password_may_come_from_a_secrets_file(
    smtp_server: SmtpServer,
    small_dataset: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HEALTHLINK_SMTP_PASSWORD", raising=False)
    secret = tmp_path / "secrets" / "smtp_password"
    secret.parent.mkdir()
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    secret.chmod(0o600)
    settings = _outbox(tmp_path, small_dataset / "registry", smtp_server, smtp_password_file=secret)

    assert drain(settings) == {"sent": 1, "failed": 0, "dead": 0}
    assert [accepted for _, accepted in smtp_server.mailbox.auths] == [True]


def test_a_wrong_password_fails_the_delivery_and_is_never_printed(
    smtp_server: SmtpServer,
    small_dataset: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = PASSWORD.replace("secret", "guess")
    monkeypatch.setenv("HEALTHLINK_SMTP_PASSWORD", wrong)
    settings = _outbox(tmp_path, small_dataset / "registry", smtp_server)

    assert drain(settings) == {"sent": 0, "failed": 1, "dead": 0}

    assert smtp_server.mailbox.auths == [(smtp_server.mailbox.auths[0][0], False)]
    assert smtp_server.mailbox.mails == []
    [(route, status, _, error, _)] = deliveries(settings)
    assert (route, status, error) == ("email:default", "failed", "SMTPAuthenticationError")
    printed = _printed(capsys, caplog)
    assert "alert_delivery_failed" in printed and "SMTPAuthenticationError" in printed
    for secret in (wrong, PASSWORD, USER):
        assert secret not in printed and secret not in repr(deliveries(settings))


def test_an_untrusted_certificate_stops_the_delivery_before_any_credential(
    smtp_server: SmtpServer,
    small_dataset: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("HEALTHLINK_SMTP_PASSWORD", PASSWORD)
    settings = _outbox(tmp_path, small_dataset / "registry", smtp_server, smtp_ca_file=None)

    assert drain(settings) == {"sent": 0, "failed": 1, "dead": 0}

    assert smtp_server.mailbox.auths == [] and smtp_server.mailbox.mails == []
    [(_, _, _, error, _)] = deliveries(settings)
    assert error == "SSLCertVerificationError"
    assert PASSWORD not in _printed(capsys, caplog)


def test_auth_without_starttls_is_refused_before_connecting(
    smtp_server: SmtpServer,
    small_dataset: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HEALTHLINK_SMTP_PASSWORD", PASSWORD)
    settings = _outbox(tmp_path, small_dataset / "registry", smtp_server, smtp_starttls=False)

    assert drain(settings) == {"sent": 0, "failed": 1, "dead": 0}

    assert smtp_server.mailbox.auths == [] and smtp_server.mailbox.mails == []
    [(_, _, _, error, _)] = deliveries(settings)
    assert error == "RouteUnavailable"
