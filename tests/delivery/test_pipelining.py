"""The next message's envelope written ahead, with the current body (RFC 2920 PIPELINING),
against a real SMTP server (aiosmtpd) that misbehaves mid-pipeline.

Each reply still belongs to its own message: a refusal of the envelope written ahead is that
next message's fault, never the current one's; a refused body does not disturb the envelope
behind it; and an envelope written ahead that is never followed by its body (the caller sends
something else, or stops) never becomes a message.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from actwatch.delivery.faults import Fault, classify
from actwatch.mail import MailError, SMTPTransport
from tests.delivery.smtp import Sink, running

SENDER = "bulletin@example.org"


def body(n: int) -> bytes:
    return f"Subject: message {n}\r\nTo: r{n}@example.org\r\n\r\nHello {n}.\r\n".encode()


def env(n: int) -> tuple[str, str]:
    return SENDER, f"r{n}@example.org"


@pytest.fixture
def sink() -> Iterator[Sink]:
    with running(Sink(pipelining=True)) as server:
        yield server


@pytest.fixture
def transport(sink: Sink) -> Iterator[SMTPTransport]:
    smtp = SMTPTransport(sink.host, sink.port, security="none", timeout=5)
    try:
        yield smtp
    finally:
        smtp.close()


def subjects(sink: Sink) -> list[str]:
    return [str(message["Subject"]) for _, message in sink.messages()]


def settle(sink: Sink, count: int) -> None:
    """The server records a message after its reply: wait until it has `count` of them."""
    deadline = time.monotonic() + 5
    while sink.total() < count and time.monotonic() < deadline:
        time.sleep(0.01)


def send(transport: SMTPTransport, n: int, then: int | None = None) -> None:
    transport.send_raw(*env(n), body(n), then=env(then) if then is not None else None)


def test_a_chain_of_messages_goes_over_one_session_each_to_its_own_reader(
    sink: Sink, transport: SMTPTransport
) -> None:
    for n in range(5):
        send(transport, n, then=n + 1 if n < 4 else None)
    transport.close()
    settle(sink, 5)
    assert [rcpt for rcpt, _ in sink.messages()] == [f"r{n}@example.org" for n in range(5)]
    assert subjects(sink) == [f"message {n}" for n in range(5)]
    assert sink.sessions == 1


def test_a_recipient_refused_mid_pipeline_is_that_messages_bounce_alone(
    sink: Sink, transport: SMTPTransport
) -> None:
    sink.refuse["r1@example.org"] = "550 5.1.1 no such mailbox"
    send(transport, 0, then=1)  # the refusal of r1 is not message 0's
    with pytest.raises(MailError) as refused:
        send(transport, 1, then=2)
    assert (refused.value.stage, refused.value.code) == ("recipient", 550)
    assert classify(refused.value) == Fault.BOUNCE
    send(transport, 2)
    transport.close()
    settle(sink, 2)
    assert subjects(sink) == ["message 0", "message 2"]
    assert sink.sessions == 1


def test_a_deferral_mid_pipeline_is_that_messages_alone(
    sink: Sink, transport: SMTPTransport
) -> None:
    sink.defer_once.add("r1@example.org")
    send(transport, 0, then=1)
    with pytest.raises(MailError) as deferred:
        send(transport, 1, then=2)
    assert classify(deferred.value) == Fault.DEFERRED
    send(transport, 2, then=1)
    send(transport, 1)  # greylisted once: the retry goes through
    transport.close()
    settle(sink, 3)
    assert subjects(sink) == ["message 0", "message 2", "message 1"]


def test_a_refused_body_leaves_the_envelope_behind_it_alone(
    sink: Sink, transport: SMTPTransport
) -> None:
    """The reply to the final dot ends that transaction: no RSET follows it (it would land in
    the next transaction, already in DATA), and the next message goes through."""
    sink.data_reply = "554 5.7.1 rejected by policy"
    with pytest.raises(MailError) as rejected:
        send(transport, 0, then=1)
    assert classify(rejected.value) == Fault.REJECTED
    sink.data_reply = None
    send(transport, 1)
    transport.close()
    settle(sink, 1)
    assert subjects(sink) == ["message 1"]
    assert sink.sessions == 1


def test_an_envelope_never_followed_by_its_body_delivers_nothing(
    sink: Sink, transport: SMTPTransport
) -> None:
    send(transport, 0, then=1)
    send(transport, 2)  # something else comes next: the connection with r1's DATA is dropped
    send(transport, 3, then=4)
    transport.close()  # stopped with r4's envelope written: dropped, never QUIT
    time.sleep(0.2)  # time for the server to take anything the client wrongly completed
    assert subjects(sink) == ["message 0", "message 2", "message 3"]
    assert sink.sessions == 2


def test_a_connection_lost_before_the_reply_is_the_current_messages_unknown_outcome(
    sink: Sink, transport: SMTPTransport
) -> None:
    sink.drop_every = 1  # closes instead of answering the final dot
    with pytest.raises(MailError) as lost:
        send(transport, 0, then=1)
    assert classify(lost.value) == Fault.UNKNOWN
    sink.drop_every = 0
    send(transport, 1)  # the envelope written ahead went with the connection: a new one
    transport.close()
    settle(sink, 1)
    assert subjects(sink) == ["message 1"]
    assert sink.sessions == 2


def test_without_pipelining_nothing_is_written_ahead(sink: Sink, transport: SMTPTransport) -> None:
    sink.pipelining = False
    send(transport, 0, then=1)
    send(transport, 2)  # had r1's envelope gone ahead, this would need a new connection
    transport.close()
    settle(sink, 2)
    assert subjects(sink) == ["message 0", "message 2"]
    assert sink.sessions == 1
