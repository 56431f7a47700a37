"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.conftest import free_port

USERNAME = "actwatch"
PASSWORD = "smtp secret"


@dataclass
class Received:
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    sessions: set[Any] = field(default_factory=set)
    logins: list[str] = field(default_factory=list)


class Handler:
    def __init__(self, received: Received) -> None:
        self.received = received

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.endswith("@refused.example"):
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.sessions.add(session.peer)
        self.received.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.messages.append(parsed)
        return "250 Message accepted"


def authenticator(received: Received) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            USERNAME.encode(),
            PASSWORD.encode(),
        )
        if ok:
            received.logins.append(USERNAME)
        return AuthResult(success=ok, handled=False)

    return check


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Received]]:
    received = Received()
    controller = Controller(
        Handler(received),
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=authenticator(received),
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield controller.port, received
    finally:
        controller.stop()
