"""A real SMTP server for the delivery tests: aiosmtpd on 127.0.0.1, counting what it receives.

Behaviour per recipient: `refuse` maps an address to an SMTP reply (`"550 5.1.1 no such user"`,
`"451 4.7.1 try later"`); `defer_once` refuses an address the first time only (greylisting);
`delay` slows every DATA down (for the crash tests).
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.conftest import free_port


@dataclass
class Sink:
    refuse: dict[str, str] = field(default_factory=dict)
    defer_once: set[str] = field(default_factory=set)
    delay: float = 0.0
    keep: bool = True
    received: list[tuple[str, bytes]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    sessions: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    host: str = "127.0.0.1"
    port: int = 0

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def messages(self) -> list[tuple[str, EmailMessage]]:
        with self.lock:
            found = list(self.received)
        parsed = []
        for rcpt, data in found:
            message = message_from_bytes(data, policy=policy.default)
            assert isinstance(message, EmailMessage)
            parsed.append((rcpt, message))
        return parsed

    def total(self) -> int:
        with self.lock:
            return sum(self.counts.values())

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        with self.lock:
            self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        with self.lock:
            if address in self.defer_once:
                self.defer_once.discard(address)
                return "451 4.7.1 greylisted, try again later"
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.counts[rcpt] += 1
                if self.keep:
                    self.received.append((rcpt, bytes(envelope.content)))
        return "250 2.0.0 accepted"


@contextmanager
def running(sink: Sink) -> Iterator[Sink]:
    sink.port = free_port()
    controller = Controller(sink, hostname=sink.host, port=sink.port, ready_timeout=10)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
