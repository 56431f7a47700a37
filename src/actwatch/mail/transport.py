"""Transports: where a built message goes, chosen by `mail.url` in the config.

- `maildir:PATH` - a local Maildir (PATH relative to the config file), for the demo and tests;
- `smtp://host:port` - plain SMTP (a relay on the same host or network);
- `smtp+starttls://host:587` - SMTP upgraded with STARTTLS before anything is sent;
- `smtps://host:465` - SMTP over TLS from the first byte.

Credentials come only from the environment variables the config names. `SMTPTransport` keeps
one connection open for many messages (bulk delivery gives each worker one of them) and
reconnects once when the server has dropped an idle connection.
"""

from __future__ import annotations

import logging
import mailbox
import os
import re
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self
from urllib.parse import urlsplit

from actwatch.config import Config

log = logging.getLogger(__name__)
SMTP_TIMEOUT = 60.0
SECURITY_BY_SCHEME = {"smtp": "none", "smtp+starttls": "starttls", "smtps": "tls"}
DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}


class MailError(Exception):
    """A message could not be handed over; `permanent` when retrying the same message is futile."""

    def __init__(
        self, message: str, *, permanent: bool = False, code: int | None = None, stage: str = ""
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code  # the SMTP reply code, when the server gave one
        self.stage = stage  # connect, sender, recipient, data (or "" when unknown)


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


class _Closing:
    def close(self) -> None:
        """Nothing to release by default."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class MaildirTransport(_Closing):
    """Each message becomes one file in `path/new` (Maildir writes it atomically via tmp/)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._box: mailbox.Maildir | None = None

    def send(self, message: EmailMessage) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            box = mailbox.Maildir(self.path, create=True)
            box.add(message)
        except OSError as exc:
            raise MailError(f"cannot write to the maildir {self.path}: {exc}") from exc

    def send_raw(
        self, sender: str, recipient: str, data: bytes, *, dot_stuffed: bool = False
    ) -> None:
        """One file per message, for bulk delivery (so the demo and a new user can send end to
        end without a mail server): the bytes as built, with the LF line ends a Maildir keeps."""
        if dot_stuffed:
            data = _unstuff(data)
        data = data.replace(b"\r\n", b"\n")
        try:
            if self._box is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._box = mailbox.Maildir(self.path, create=True)
            self._box.add(data)
        except OSError as exc:
            raise MailError(f"cannot write to the maildir {self.path}: {exc}") from exc

    def messages(self) -> list[EmailMessage]:
        """What the maildir holds, oldest first (for the demo and tests)."""
        if not self.path.is_dir():
            return []
        from email import policy
        from email.parser import BytesParser

        parser = BytesParser(policy=policy.default)
        files = sorted((self.path / "new").iterdir(), key=lambda f: (f.stat().st_mtime_ns, f.name))
        found = []
        for file in files:
            with file.open("rb") as handle:
                parsed = parser.parse(handle)
            assert isinstance(parsed, EmailMessage)
            found.append(parsed)
        return found


class SMTPTransport(_Closing):
    """One SMTP session, opened on the first message and reused for the next ones."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = SMTP_TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if security not in DEFAULT_PORTS:
            raise ValueError(f"unknown security {security!r}")
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.timeout = timeout
        self.ssl_context = ssl_context
        self.local_hostname = local_hostname
        self._smtp: smtplib.SMTP | None = None
        # The envelope (sender, recipient) of the next message, written ahead with the last
        # body; its three replies are read by the `send_raw` that sends that message.
        self._open: tuple[str, str] | None = None

    @property
    def connected(self) -> bool:
        return self._smtp is not None

    def _context(self) -> ssl.SSLContext:
        return self.ssl_context or ssl.create_default_context()

    def connect(self) -> None:
        if self._smtp is not None:
            return
        try:
            smtp: smtplib.SMTP
            if self.security == "tls":
                smtp = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    timeout=self.timeout,
                    context=self._context(),
                    local_hostname=self.local_hostname,
                )
            else:
                smtp = smtplib.SMTP(
                    self.host, self.port, timeout=self.timeout, local_hostname=self.local_hostname
                )
            try:
                _greet(smtp)
                if self.security == "starttls":
                    smtp.starttls(context=self._context())
                    _greet(smtp)
                if self.username:
                    smtp.login(self.username, self.password or "")
            except BaseException:
                smtp.close()
                raise
        except smtplib.SMTPAuthenticationError as exc:
            raise MailError(
                f"the SMTP server refused the login: {_reply(exc)}",
                permanent=True,
                code=exc.smtp_code,
                stage="connect",
            ) from exc
        except smtplib.SMTPResponseException as exc:
            # A greeting of 421 or 554, a refused STARTTLS: the server, not any message.
            raise MailError(
                f"cannot connect to {self.host}:{self.port}: {_reply(exc)}",
                code=exc.smtp_code,
                stage="connect",
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(
                f"cannot connect to {self.host}:{self.port}: {exc}", stage="connect"
            ) from exc
        self._smtp = smtp

    def send(self, message: EmailMessage) -> None:
        for attempt in (1, 2):
            self.connect()
            assert self._smtp is not None
            try:
                refused = self._smtp.send_message(message)
            except smtplib.SMTPServerDisconnected as exc:
                # An idle connection the server closed: one fresh connection, then give up.
                self._drop()
                if attempt == 2:
                    raise MailError(f"the SMTP server disconnected: {exc}") from exc
                continue
            except smtplib.SMTPRecipientsRefused as exc:
                # 4xx (mailbox busy, greylisting) is worth retrying; 5xx is final.
                codes = [code for code, _ in exc.recipients.values()]
                raise MailError(
                    f"recipient refused: {_refused(exc.recipients)}",
                    permanent=all(code >= 500 for code in codes),
                    code=max(codes, default=None),
                    stage="recipient",
                ) from exc
            except smtplib.SMTPResponseException as exc:
                self._reset()
                raise MailError(
                    f"the SMTP server refused the message: {_reply(exc)}",
                    permanent=500 <= exc.smtp_code < 600,
                ) from exc
            except (smtplib.SMTPException, OSError) as exc:
                self._drop()
                raise MailError(f"sending failed: {exc}") from exc
            if refused:
                raise MailError(f"recipient refused: {_refused(refused)}", permanent=True)
            return

    def send_raw(
        self,
        sender: str,
        recipient: str,
        data: bytes,
        *,
        dot_stuffed: bool = False,
        then: tuple[str, str] | None = None,
    ) -> None:
        """Hand over a message already serialised (CRLF line ends) to one recipient.

        Bulk delivery builds the bytes itself. Errors say which SMTP stage failed and with which
        code, so the caller can tell a bounce (5xx) from a deferral (4xx); `stage="data"` with no
        code means the connection broke during DATA: the server may or may not have the message,
        so it is never retried here. When the server offers PIPELINING, MAIL, RCPT and DATA go
        in one write (RFC 2920): one round trip per message instead of three.

        `then` is the next message's envelope (sender, recipient): with PIPELINING its MAIL,
        RCPT and DATA go in the same write as this body, so the next message costs no round
        trip of its own before its body. Only the envelope goes ahead: without its body and
        final dot the server delivers nothing, and a transaction left open that way is never
        completed (the connection is dropped, never QUIT, see `abandon`). Its replies are read
        by the next `send_raw` for that envelope, and their errors are that message's."""
        if self._open is not None and self._open != (sender, recipient):
            self.abandon()  # the caller sends something else: that transaction must never end
        for attempt in (1, 2):
            self.connect()
            smtp = self._smtp
            assert smtp is not None
            ahead = self._open is not None
            try:
                if ahead:
                    self._open = None
                    self._envelope_replies(smtp, recipient)
                    started = True
                elif smtp.has_extn("pipelining") and sender.isascii() and recipient.isascii():
                    self._envelope_pipelined(smtp, sender, recipient)
                    started = True
                else:
                    self._envelope(smtp, sender, recipient)
                    started = False
            except _IdleDrop as exc:
                # An idle connection the server closed (or, for an envelope written ahead, one
                # it closed after its last reply): nothing was sent, so reconnect once.
                self._drop()
                if attempt == 2:
                    raise MailError(
                        f"the SMTP server disconnected: {exc}", stage="connect"
                    ) from exc
                continue
            following = None
            if (
                started
                and then is not None
                and then[0].isascii()
                and then[1].isascii()
                and smtp.has_extn("pipelining")
            ):
                following = then
            self._data(smtp, data, dot_stuffed, started=started, then=following)
            return

    def abandon(self) -> None:
        """Give up an envelope written ahead: the server may be waiting for its body after a
        354, where anything we write (RSET, QUIT) would become message text; closing the
        connection is the only way to end that transaction without delivering it."""
        if self._open is not None:
            self._drop()

    def _envelope(self, smtp: smtplib.SMTP, sender: str, recipient: str) -> None:
        try:
            code, reply = smtp.mail(sender)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise _IdleDrop(str(exc)) from exc
        if code != 250:
            self._reset()
            raise _refused_sender(code, reply)
        try:
            code, reply = smtp.rcpt(recipient)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            raise MailError(f"the SMTP server disconnected: {exc}", stage="recipient") from exc
        if code not in (250, 251):
            self._reset()
            raise _refused_recipient(recipient, code, reply)

    def _envelope_pipelined(self, smtp: smtplib.SMTP, sender: str, recipient: str) -> None:
        """MAIL, RCPT and DATA in one write, then their three replies; ends answered 354."""
        try:
            smtp.send(_envelope_commands(sender, recipient))
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise _IdleDrop(str(exc)) from exc
        self._envelope_replies(smtp, recipient)

    def _envelope_replies(self, smtp: smtplib.SMTP, recipient: str) -> None:
        """The replies to a pipelined MAIL, RCPT and DATA, each judged on its own."""
        try:
            mail = smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise _IdleDrop(str(exc)) from exc
        try:
            rcpt = smtp.getreply()
            data = smtp.getreply()
            if data[0] == 354 and (mail[0] != 250 or rcpt[0] not in (250, 251)):
                # The server took DATA though the envelope failed: an empty message ends it.
                smtp.send(".\r\n")
                smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            stage = "recipient" if mail[0] == 250 else "sender"
            raise MailError(f"the SMTP server disconnected: {exc}", stage=stage) from exc
        if mail[0] != 250:
            self._reset()
            raise _refused_sender(*mail)
        if rcpt[0] not in (250, 251):
            self._reset()
            raise _refused_recipient(recipient, *rcpt)
        if data[0] != 354:
            self._reset()
            raise MailError(
                f"the SMTP server refused the message: {data[0]} {_text(data[1])}",
                permanent=data[0] >= 500,
                code=data[0],
                stage="data",
            )

    def _data(
        self,
        smtp: smtplib.SMTP,
        data: bytes,
        dot_stuffed: bool,
        *,
        started: bool,
        then: tuple[str, str] | None = None,
    ) -> None:
        """The message itself; after DATA was already answered 354 when `started`, and with the
        next message's envelope in the same write when `then` is given."""
        try:
            if started:
                after = b""
                if then is not None:
                    after = _envelope_commands(*then)
                    # Set before the write: if the write fails, `_drop` forgets it again.
                    self._open = then
                _send_body(smtp, data if dot_stuffed else _stuff(data), after)
            elif dot_stuffed:
                _data_stuffed(smtp, data)
            else:
                smtp.data(data)
        except smtplib.SMTPDataError as exc:
            if self._open is None:
                self._reset()
            # else: the reply to the final dot ended this transaction already, and an RSET now
            # would land in the next one, written ahead.
            raise MailError(
                f"the SMTP server refused the message: {_reply(exc)}",
                permanent=500 <= exc.smtp_code < 600,
                code=exc.smtp_code,
                stage="data",
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise MailError(
                f"the connection broke while the message was being sent: {exc}",
                stage="data",
            ) from exc

    def _reset(self) -> None:
        # After a refused message the session stays usable once the transaction is reset.
        if self._smtp is not None:
            try:
                self._smtp.rset()
            except (smtplib.SMTPException, OSError):
                self._drop()

    def _drop(self) -> None:
        self._open = None
        if self._smtp is not None:
            try:
                self._smtp.close()
            finally:
                self._smtp = None

    def close(self) -> None:
        if self._smtp is None:
            return
        if self._open is not None:  # a QUIT now would be read as message text
            self._drop()
            return
        try:
            self._smtp.quit()
        except (smtplib.SMTPException, OSError):
            log.debug("SMTP QUIT failed; closing the socket", exc_info=True)
        finally:
            self._drop()


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else ""
    return f"{exc.smtp_code} {text or exc.smtp_error!s}".strip()


def _greet(smtp: smtplib.SMTP) -> None:
    """EHLO (HELO for an old server); a refusal (421 "too busy") raises: without it every
    command after would be refused too, and read as a verdict on the message."""
    code, reply = smtp.ehlo()
    if code != 250:
        code, reply = smtp.helo()
    if code != 250:
        raise smtplib.SMTPResponseException(code, reply)


def _quoted(address: str) -> str:
    """`<address>` for a plain address (what smtplib's quoteaddr gives it, without parsing it
    again for every message); anything else goes through quoteaddr."""
    if "<" in address or ">" in address or " " in address or "\r" in address or "\n" in address:
        return smtplib.quoteaddr(address)
    return f"<{address}>"


def _envelope_commands(sender: str, recipient: str) -> bytes:
    return f"MAIL FROM:{_quoted(sender)}\r\nRCPT TO:{_quoted(recipient)}\r\nDATA\r\n".encode(
        "ascii"
    )


class _IdleDrop(Exception):
    """The server had closed the connection before the transaction began: nothing was sent."""


def _refused_sender(code: int, reply: bytes) -> MailError:
    return MailError(
        f"the SMTP server refused the sender: {code} {_text(reply)}",
        permanent=code >= 500,
        code=code,
        stage="sender",
    )


def _refused_recipient(recipient: str, code: int, reply: bytes) -> MailError:
    return MailError(
        f"recipient refused: {recipient} ({code} {_text(reply)})",
        permanent=code >= 500,
        code=code,
        stage="recipient",
    )


def _data_stuffed(smtp: smtplib.SMTP, data: bytes) -> None:
    """DATA for bytes whose line-initial dots are already doubled (bulk delivery stuffs its
    template once instead of running smtplib's regex over every copy)."""
    code, reply = smtp.docmd("data")
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    _send_body(smtp, data)


def _send_body(smtp: smtplib.SMTP, data: bytes, after: bytes = b"") -> None:
    # One write: a separate small write of the final dot waits on Nagle and delayed ACKs.
    # `after` (the next message's envelope, pipelined) rides in the same write.
    smtp.send(b"".join((data, b".\r\n" if data.endswith(b"\r\n") else b"\r\n.\r\n", after)))
    code, reply = smtp.getreply()
    if code != 250:
        raise smtplib.SMTPDataError(code, reply)


def _stuff(data: bytes) -> bytes:
    """What smtplib's `data` does to a message: CRLF line ends, line-initial dots doubled."""
    data = re.sub(rb"(?:\r\n|\n|\r(?!\n))", b"\r\n", data)
    return re.sub(rb"(?m)^\.", b"..", data)


def _unstuff(data: bytes) -> bytes:
    data = data[1:] if data.startswith(b"..") else data
    return data.replace(b"\r\n..", b"\r\n.")


def _text(reply: bytes) -> str:
    return reply.decode("utf-8", "replace")


def _refused(recipients: Mapping[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{address} ({code} {reply.decode('utf-8', 'replace')})"
        for address, (code, reply) in recipients.items()
    )


def open_transport(config: Config, env: Mapping[str, str] | None = None) -> Transport:
    """The transport `mail.url` names. Nothing connects until the first message."""
    env = os.environ if env is None else env
    url = config.mail.url
    maildir = config.maildir
    if maildir is not None:
        return MaildirTransport(maildir)
    parts = urlsplit(url)
    security = SECURITY_BY_SCHEME[parts.scheme]
    username = env.get(config.mail.username_env) or None
    password = env.get(config.mail.password_env) or None
    if password and not username:
        raise MailError(f"{config.mail.password_env} is set but {config.mail.username_env} is not")
    if username and security == "none" and parts.hostname not in ("127.0.0.1", "::1", "localhost"):
        # A password sent in clear over a network: refuse rather than leak it.
        raise MailError(
            f"refusing to send SMTP credentials unencrypted to {parts.hostname}: "
            "use smtp+starttls:// or smtps://"
        )
    assert parts.hostname is not None
    return SMTPTransport(
        parts.hostname,
        parts.port or DEFAULT_PORTS[security],
        security=security,
        username=username,
        password=password,
    )
