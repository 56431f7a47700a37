"""A real SMTP server for the delivery tests: aiosmtpd on 127.0.0.1, counting what it receives,
and configurable to misbehave the ways real servers do.

Per recipient: `refuse` maps an address to an SMTP reply (`"550 5.1.1 no such user"`,
`"451 4.7.1 try later"`); `defer_once` refuses an address the first time only (greylisting).
For everyone: `greeting` answers EHLO/HELO with a reply (`"421 4.3.2 too busy"`);
`mail_reply` answers MAIL FROM, `rcpt_reply` every RCPT and `data_reply` every DATA with it
(`"554 5.7.1 rejected by policy"`); `drop_every` closes the connection instead of answering
every Nth DATA (`drop_counts`: whether the server kept that message first); `pipelining`
offers PIPELINING; `delay` slows every DATA down (for the crash tests). `down()` stops
listening (connections are refused) and `up()` listens again on the same port.
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
    greeting: str | None = None
    mail_reply: str | None = None
    rcpt_reply: str | None = None
    data_reply: str | None = None
    drop_every: int = 0
    drop_counts: bool = False
    pipelining: bool = False
    datas: int = 0
    drops: int = 0
    controller: Controller | None = None

    def down(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def up(self) -> None:
        if self.controller is None:
            self.controller = _start(self)

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
        if self.greeting is not None:
            return [self.greeting]
        session.host_name = hostname
        if self.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_HELO(self, server: Any, session: Any, envelope: Any, hostname: str) -> str:
        if self.greeting is not None:
            return self.greeting
        session.host_name = hostname
        return f"250 {server.hostname}"

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.mail_reply is not None:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        with self.lock:
            if address in self.defer_once:
                self.defer_once.discard(address)
                return "451 4.7.1 greylisted, try again later"
        if address in self.refuse:
            return self.refuse[address]
        if self.rcpt_reply is not None:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.data_reply is not None:
            return self.data_reply
        with self.lock:
            self.datas += 1
            drop = bool(self.drop_every) and self.datas % self.drop_every == 0
            if drop:
                self.drops += 1
        if drop:
            if self.drop_counts:
                self._keep(envelope)
            server.transport.close()  # the reply never comes
            return "250 2.0.0 accepted"
        self._keep(envelope)
        return "250 2.0.0 accepted"

    def _keep(self, envelope: Any) -> None:
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.counts[rcpt] += 1
                if self.keep:
                    self.received.append((rcpt, bytes(envelope.content)))

    def raw(self) -> list[bytes]:
        with self.lock:
            return [data for _, data in self.received]


def _start(sink: Sink) -> Controller:
    controller = Controller(sink, hostname=sink.host, port=sink.port, ready_timeout=10)
    controller.start()
    return controller


@contextmanager
def running(sink: Sink) -> Iterator[Sink]:
    sink.port = free_port()
    sink.up()
    try:
        yield sink
    finally:
        sink.down()
