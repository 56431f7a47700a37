"""Mail faults against a real SMTP server (aiosmtpd) configured to misbehave, at the CLI where
an operator would meet them: each fault gets its own reaction, and the result says so.

Server-level faults (refused, 421, 4xx at MAIL) pause the send and cost nobody an attempt; a 5xx
at MAIL FROM or DATA blocks the bulletin and bounces nobody; a relay refusing every recipient
trips the breaker; a dropped connection after DATA sends the message again (at most one
duplicate per drop); one reader whose message cannot be built fails alone.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from sqlalchemy import Engine, select, update

from actwatch.cli import main
from actwatch.config import Config, parse_config
from actwatch.db.schema import bulletins, deliveries, subscribers
from actwatch.delivery import Backoff, claim, delivery_report, prepare, send_bulletin
from actwatch.delivery.compose import MessageFactory
from actwatch.review import start_sending
from actwatch.subscribers import import_file
from tests.delivery.conftest import ENV, Approved, config_data, make_approved
from tests.delivery.smtp import Sink

FAST = Backoff(first=0.01, longest=0.05)
SHORT = timedelta(seconds=0.3)
LONG = timedelta(seconds=30)


def readers(count: int, prefix: str = "r") -> str:
    return "email,name,strands\n" + "".join(
        f"{prefix}{i}@example.org,Reader {i},\n" for i in range(count)
    )


@pytest.fixture
def setup(
    tmp_path: Path, repo_config_data: dict[str, Any], engine: Engine, database_url: str, sink: Sink
) -> Callable[..., tuple[Approved, Path]]:
    """An approved bulletin on `engine` (both backends), readers, and a config file for the CLI."""

    def make(csv_text: str, **mail: Any) -> tuple[Approved, Path]:
        data = config_data(repo_config_data, sink.url)
        data["database"] = {"url": database_url}
        data["mail"] = {**data["mail"], "connections": 2, **mail}
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        config = parse_config(data, path)
        target = make_approved(engine, config)
        source = tmp_path / "readers.csv"
        source.write_text(csv_text, encoding="utf-8")
        import_file(engine, config, source)
        return target, path

    return make


def cli(config_file: Path, *args: str) -> Result:
    return CliRunner(env={**ENV, "COLUMNS": "200"}).invoke(
        main, ["--config", str(config_file), *args]
    )


def rows(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(select(deliveries).order_by(deliveries.c.id)))


def states(engine: Engine) -> dict[str, int]:
    found: dict[str, int] = {}
    for row in rows(engine):
        found[row.state] = found.get(row.state, 0) + 1
    return found


def statuses(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(select(subscribers.c.status)).scalars())


def bulletin(engine: Engine) -> Any:
    with engine.connect() as connection:
        return connection.execute(select(bulletins)).one()


def test_an_outage_at_the_cli_costs_nobody_an_attempt_and_ends_when_the_server_is_back(
    setup: Callable[..., tuple[Approved, Path]], sink: Sink, engine: Engine
) -> None:
    target, config_file = setup(readers(12))
    sink.down()
    # More runs than mail.max_attempts (3) while the server refuses every connection.
    for _ in range(4):
        result = cli(config_file, "send", "1", "--max-wait", "0.2s")
        assert result.exit_code == 1, result.output
        assert "12 pending" in result.output and "stopped" in result.output
        assert {(row.state, row.attempts) for row in rows(engine)} == {("pending", 0)}
    assert statuses(engine) == {"confirmed"}
    assert bulletin(engine).state == "sending"
    assert "cannot connect" in bulletin(engine).send_problem
    report = delivery_report(engine, target.config, target.bulletin_id)
    assert report.stalled and report.attention
    shown = cli(config_file, "deliveries", "1")
    assert shown.exit_code == 1 and "Stalled" in shown.output

    sink.up()
    result = cli(config_file, "send", "1")
    assert result.exit_code == 0, result.output
    assert "Done: the bulletin is sent." in result.output
    assert len(sink.counts) == 12 and set(sink.counts.values()) == {1}
    assert states(engine) == {"sent": 12}
    assert statuses(engine) == {"confirmed"}
    assert bulletin(engine).send_problem is None


def test_an_outage_mid_send_pauses_everyone_and_carries_on_by_itself(
    setup: Callable[..., tuple[Approved, Path]], sink: Sink, engine: Engine
) -> None:
    target, _ = setup(readers(40))
    sink.delay = 0.002

    def outage() -> None:
        while sink.total() < 10:
            time.sleep(0.001)
        sink.down()
        time.sleep(0.3)
        sink.up()

    thread = threading.Thread(target=outage)
    thread.start()
    report = send_bulletin(
        engine,
        target.config,
        target.bulletin_id,
        env=ENV,
        server_backoff=FAST,
        max_wait=LONG,
    )
    thread.join()
    assert report.complete, report.summary()
    assert len(sink.counts) == 40
    # A message on the wire when the server went away may arrive twice: one per connection.
    assert sum(n - 1 for n in sink.counts.values()) <= 2
    assert states(engine) == {"sent": 40}
    assert max(row.attempts for row in rows(engine)) <= 2
    assert statuses(engine) == {"confirmed"}


@pytest.mark.parametrize(
    ("where", "reply"),
    [
        ("greeting", "421 4.3.2 too busy, try later"),
        ("mail_reply", "451 4.3.0 temporary failure, try later"),
    ],
)
def test_a_4xx_before_any_recipient_is_the_servers_problem(
    setup: Callable[..., tuple[Approved, Path]], sink: Sink, engine: Engine, where: str, reply: str
) -> None:
    target, _ = setup(readers(5))
    setattr(sink, where, reply)
    report = send_bulletin(
        engine, target.config, target.bulletin_id, env=ENV, server_backoff=FAST, max_wait=SHORT
    )
    assert report.halt is not None and report.halt.kind == "outage"
    assert reply.split()[0] in report.halt.reason
    assert not report.complete and report.blocked is None
    assert {(row.state, row.attempts) for row in rows(engine)} == {("pending", 0)}
    assert bulletin(engine).state == "sending"

    setattr(sink, where, None)
    again = send_bulletin(engine, target.config, target.bulletin_id, env=ENV)
    assert again.complete
    assert len(sink.counts) == 5 and set(sink.counts.values()) == {1}


def test_554_to_data_blocks_the_bulletin_and_bounces_nobody(
    setup: Callable[..., tuple[Approved, Path]], sink: Sink, engine: Engine
) -> None:
    _, config_file = setup(readers(8))
    sink.data_reply = "554 5.7.1 message refused by content policy"
    result = cli(config_file, "send", "1")
    assert result.exit_code == 1, result.output
    assert "Blocked" in result.output and "554 5.7.1" in result.output
    assert "BLOCKED" in result.output.splitlines()[-1]
    assert sink.total() == 0
    assert {(row.state, row.attempts) for row in rows(engine)} == {("pending", 0)}
    assert statuses(engine) == {"confirmed"}
    row = bulletin(engine)
    assert row.state == "blocked" and "554 5.7.1 message refused" in row.send_problem
    shown = cli(config_file, "deliveries", "1", "--json")
    assert shown.exit_code == 1
    assert '"blocked": true' in shown.output
    # A scheduler would not touch it; the operator sends it again once the server accepts.
    sink.data_reply = None
    result = cli(config_file, "send", "1")
    assert result.exit_code == 0, result.output
    assert len(sink.counts) == 8 and set(sink.counts.values()) == {1}
    assert bulletin(engine).state == "sent"


def test_5xx_at_mail_from_blocks_too(
    setup: Callable[..., tuple[Approved, Path]], sink: Sink, engine: Engine
) -> None:
    target, _ = setup(readers(4))
    sink.mail_reply = "550 5.7.1 sender address rejected: not allowed to relay"
    report = send_bulletin(engine, target.config, target.bulletin_id, env=ENV)
    assert report.blocked is not None and "550 5.7.1" in report.blocked
    assert not report.complete and report.bounced == 0
    assert states(engine) == {"pending": 4}
    assert statuses(engine) == {"confirmed"}
    assert bulletin(engine).state == "blocked"
    assert delivery_report(engine, target.config, target.bulletin_id).blocked


def test_a_relay_that_refuses_every_recipient_trips_the_breaker(
    setup: Callable[..., tuple[Approved, Path]], sink: Sink, engine: Engine
) -> None:
    _, config_file = setup(readers(30))
    sink.rcpt_reply = "554 5.7.1 relay access denied"
    result = cli(config_file, "send", "1")
    assert result.exit_code == 1, result.output
    assert "circuit breaker" in result.output
    assert sink.total() == 0
    assert statuses(engine) == {"confirmed"}, "a misconfigured relay bounced someone for good"
    assert states(engine) == {"pending": 30}
    assert bulletin(engine).state == "blocked"

    sink.rcpt_reply = None
    result = cli(config_file, "send", "1")
    assert result.exit_code == 0, result.output
    assert len(sink.counts) == 30 and set(sink.counts.values()) == {1}


def test_an_operator_can_accept_bounces_the_breaker_stopped(
    setup: Callable[..., tuple[Approved, Path]], sink: Sink, engine: Engine
) -> None:
    """A list whose first dozen addresses really are dead: the breaker stops the send; the
    operator, having checked, lets those bounces stand."""
    _, config_file = setup(readers(12, prefix="dead") + readers(5).split("\n", 1)[1])
    for i in range(12):
        sink.refuse[f"dead{i}@example.org"] = "550 5.1.1 no such mailbox"
    first = cli(config_file, "send", "1")
    assert first.exit_code == 1 and "--accept-bounces" in first.output
    assert statuses(engine) == {"confirmed"}
    result = cli(config_file, "send", "1", "--accept-bounces")
    assert result.exit_code == 0, result.output
    assert states(engine) == {"bounced": 12, "sent": 5}
    assert len(sink.counts) == 5
    with engine.connect() as connection:
        bounced = connection.execute(
            select(subscribers.c.email).where(subscribers.c.status == "bounced")
        ).scalars()
        assert {email for email in bounced} == {f"dead{i}@example.org" for i in range(12)}


def test_a_few_genuine_bounces_do_not_trip_the_breaker(
    setup: Callable[..., tuple[Approved, Path]], sink: Sink, engine: Engine
) -> None:
    target, _ = setup(readers(30))
    for i in (3, 17):
        sink.refuse[f"r{i}@example.org"] = "550 5.1.1 no such mailbox"
    report = send_bulletin(engine, target.config, target.bulletin_id, env=ENV)
    assert report.complete and report.bounced == 2
    with engine.connect() as connection:
        bounced = set(
            connection.execute(
                select(subscribers.c.email).where(subscribers.c.status == "bounced")
            ).scalars()
        )
    assert bounced == {"r3@example.org", "r17@example.org"}


@pytest.mark.parametrize("server_kept_it", [False, True])
def test_drops_during_data_miss_nobody_and_duplicate_at_most_once_per_drop(
    setup: Callable[..., tuple[Approved, Path]],
    sink: Sink,
    engine: Engine,
    server_kept_it: bool,
) -> None:
    target, _ = setup(readers(30))
    sink.drop_every = 7
    sink.drop_counts = server_kept_it
    report = send_bulletin(engine, target.config, target.bulletin_id, env=ENV)
    assert sink.drops >= 3
    assert len(sink.counts) == 30, "someone is missing"
    assert sum(n - 1 for n in sink.counts.values()) <= sink.drops
    assert report.complete and report.requeued_unknown == sink.drops
    assert states(engine) == {"sent": 30}
    assert bulletin(engine).state == "sent"


def test_drops_at_most_once_send_nobody_twice_and_say_so(
    setup: Callable[..., tuple[Approved, Path]], sink: Sink, engine: Engine
) -> None:
    target, _ = setup(readers(20))
    sink.drop_every = 6
    report = send_bulletin(engine, target.config, target.bulletin_id, env=ENV, at_most_once=True)
    assert set(sink.counts.values()) == {1}
    assert states(engine) == {"sent": 20 - sink.drops, "sending": sink.drops}
    assert report.uncertain == sink.drops
    # The operator chose: possibly sent counts as done, and is reported.
    assert report.finished and bulletin(engine).state == "sent"


HOSTILE_NAMES = (
    "x: =?utf-8?q?a=0D=0Ab?=",
    "Evil\r\nBcc: victim@example.org",
    "nul\x00byte",
    "esc\x1b[31mred",
    "=?utf-8?b?QmNjOiB2aWN0aW1AZXhhbXBsZS5vcmc=?=\nBcc: x@example.org",
)
HEADER_NAME = re.compile(rb"^([A-Za-z0-9-]+):", re.M)


def test_a_message_that_cannot_be_built_fails_alone(
    setup: Callable[..., tuple[Approved, Path]],
    sink: Sink,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, config_file = setup(readers(12) + "poison@example.org,Poison Pen,\n")
    build = MessageFactory.build

    def poisoned(self: MessageFactory, delivery_id: int, email: str, name: Any, *a: Any, **k: Any):  # type: ignore[no-untyped-def]
        if name == "Poison Pen":
            raise UnicodeEncodeError("ascii", "Poison", 0, 1, "made to fail")
        return build(self, delivery_id, email, name, *a, **k)

    monkeypatch.setattr(MessageFactory, "build", poisoned)
    result = cli(config_file, "send", "1")
    assert result.exit_code == 1, result.output
    assert "1 failed" in result.output.splitlines()[-1]
    assert len(sink.counts) == 12 and set(sink.counts.values()) == {1}
    assert "poison@example.org" not in sink.counts
    with engine.connect() as connection:
        poison = connection.execute(
            select(deliveries.c.state, deliveries.c.last_error)
            .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
            .where(subscribers.c.email == "poison@example.org")
        ).one()
    assert poison.state == "failed" and "cannot build the message" in poison.last_error
    assert bulletin(engine).state == "sent"  # nobody is waiting: the row has given up
    shown = cli(config_file, "deliveries", "1")
    assert shown.exit_code == 1 and "cannot build the message" in shown.output
    again = cli(config_file, "send", "1")  # the failed row stays failed: still not a success
    assert again.exit_code == 1 and sink.total() == 12

    # Fixed, queued again, sent: exactly one copy for the reader who had none.
    monkeypatch.setattr(MessageFactory, "build", build)
    assert cli(config_file, "deliveries", "retry", "1", "--failed").exit_code == 0
    result = cli(config_file, "send", "1")
    assert result.exit_code == 0, result.output
    assert len(sink.counts) == 13 and set(sink.counts.values()) == {1}
    assert cli(config_file, "deliveries", "1").exit_code == 0


def test_hostile_names_never_cost_anyone_else_their_copy(
    setup: Callable[..., tuple[Approved, Path]], sink: Sink, engine: Engine
) -> None:
    """Whether composing cleans a hostile name or refuses it, the other readers get exactly one
    copy each, and no message carries an injected header or a control character."""
    hostile = "".join(
        f'h{i}@example.org,"{name.replace(chr(34), "")}",\n' for i, name in enumerate(HOSTILE_NAMES)
    )
    _, config_file = setup(readers(12) + hostile)
    cli(config_file, "send", "1")
    others = {f"r{i}@example.org" for i in range(12)}
    assert {rcpt: sink.counts[rcpt] for rcpt in others} == dict.fromkeys(others, 1)
    assert all(n == 1 for n in sink.counts.values())
    for raw in sink.raw():
        head = raw.split(b"\r\n\r\n", 1)[0]
        assert not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", head)
        names = [n.lower() for n in HEADER_NAME.findall(head)]
        assert b"bcc" not in names and names.count(b"to") == 1
    # Composing cleans every hostile name (mail/headers.py): each of them gets a copy too.
    assert len(sink.counts) == 12 + len(HOSTILE_NAMES)
    assert states(engine) == {"sent": 12 + len(HOSTILE_NAMES)}
    assert bulletin(engine).state == "sent"


def test_a_sender_is_never_handed_rows_it_already_holds(
    engine: Engine, config: Config, add_readers: Callable[..., None]
) -> None:
    target = make_approved(engine, config)
    add_readers(target, readers(6))
    start_sending(engine, target.bulletin_id, actor="test")
    prepare(engine, target.bulletin_id)
    first = claim(engine, target.bulletin_id, "me", limit=4)
    second = claim(engine, target.bulletin_id, "me", limit=4)
    assert len(first) == 4 and len(second) == 2
    assert not {j.delivery_id for j in first} & {j.delivery_id for j in second}
    assert claim(engine, target.bulletin_id, "me", limit=4) == []


def test_bulk_sending_to_a_maildir_writes_one_file_per_message(
    tmp_path: Path, repo_config_data: dict[str, Any], sqlite_engine: Engine
) -> None:
    from email import message_from_bytes, policy

    data = config_data(repo_config_data, "maildir:outbox")
    data["database"] = {"url": str(sqlite_engine.url)}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    config = parse_config(data, path)
    make_approved(sqlite_engine, config)
    source = tmp_path / "readers.csv"
    source.write_text(readers(7), encoding="utf-8")
    import_file(sqlite_engine, config, source)
    result = cli(path, "send", "1")
    assert result.exit_code == 0, result.output
    files = sorted((tmp_path / "outbox" / "new").iterdir())
    assert len(files) == 7
    to = set()
    for file in files:
        raw = file.read_bytes()
        assert b"\r\n" not in raw
        message = message_from_bytes(raw, policy=policy.default)
        to.add(message["To"].addresses[0].addr_spec)
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert to == {f"r{i}@example.org" for i in range(7)}
    assert states(sqlite_engine) == {"sent": 7}


def test_a_copy_that_cannot_be_decoded_changes_nothing(
    approved: Approved, add_readers: Callable[..., None], sink: Sink
) -> None:
    from actwatch.review import FrozenCopyError

    add_readers(approved)
    with approved.engine.begin() as connection:
        connection.execute(update(bulletins).values(frozen_context={"season": 42}))
    with pytest.raises(FrozenCopyError):
        send_bulletin(approved.engine, approved.config, approved.bulletin_id, env=ENV)
    assert bulletin(approved.engine).state == "approved"
    assert rows(approved.engine) == []
    assert sink.total() == 0


def test_a_test_send_from_send_is_the_editors_test_copy(
    setup: Callable[..., tuple[Approved, Path]], sink: Sink, engine: Engine
) -> None:
    """One test-send path: `actwatch send --to` sends what the editor's test send does."""
    from actwatch.db.schema import audit_log

    _, config_file = setup(readers(3))
    result = cli(config_file, "send", "1", "--to", "Editor@Example.org")
    assert result.exit_code == 0, result.output
    [(rcpt, message)] = sink.messages()
    assert rcpt.lower() == "editor@example.org"
    assert message["Subject"].startswith("[Test] ") and message["X-Actwatch-Test"] == "yes"
    assert rows(engine) == [] and bulletin(engine).state == "approved"
    with engine.connect() as connection:
        actions = list(connection.execute(select(audit_log.c.action)).scalars())
    assert actions.count("test_send") == 1


def test_a_server_that_never_answers_is_a_server_fault(
    setup: Callable[..., tuple[Approved, Path]], engine: Engine
) -> None:
    """Accepts the connection, then says nothing: every try times out, nobody loses a try."""
    import socket

    from actwatch.mail import SMTPTransport

    target, _ = setup(readers(3))
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        report = send_bulletin(
            engine,
            target.config,
            target.bulletin_id,
            env=ENV,
            transport_factory=lambda: SMTPTransport(
                "127.0.0.1", port, security="none", timeout=0.05
            ),
            server_backoff=FAST,
            max_wait=SHORT,
        )
    assert report.halt is not None and report.halt.kind == "outage"
    assert "timed out" in report.halt.reason
    assert {(row.state, row.attempts) for row in rows(engine)} == {("pending", 0)}


def test_pipelined_transactions_keep_each_reply_with_its_command(
    setup: Callable[..., tuple[Approved, Path]], sink: Sink, engine: Engine
) -> None:
    """With PIPELINING offered, MAIL, RCPT and DATA go in one write; a refused recipient, a
    deferral and a refused message are still told apart by the reply to each command."""
    target, _ = setup(readers(10))
    sink.pipelining = True
    sink.refuse["r2@example.org"] = "550 5.1.1 no such mailbox"
    sink.defer_once.add("r5@example.org")
    report = send_bulletin(engine, target.config, target.bulletin_id, env=ENV)
    assert (report.sent, report.bounced, report.deferred) == (8, 1, 1)
    assert set(sink.counts.values()) == {1} and len(sink.counts) == 8
    assert sink.sessions <= 2  # the connections were kept through the refusals
    sink.data_reply = "554 5.7.1 refused"
    with engine.begin() as connection:  # the deferral is due now
        connection.execute(update(deliveries).values(next_attempt_at=None))
    blocked = send_bulletin(engine, target.config, target.bulletin_id, env=ENV)
    assert blocked.blocked is not None and "554 5.7.1" in blocked.blocked
    # The deferred reader's message was refused as a message: back in the queue, the refusal
    # costing no attempt (only the deferral counted).
    assert states(engine) == {"sent": 8, "bounced": 1, "pending": 1}
    assert {row.attempts for row in rows(engine) if row.state == "pending"} == {1}
