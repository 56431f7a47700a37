"""Across crashes: `actwatch send` as a real process, killed mid-run, run again.

The SMTP server (aiosmtpd, in this process) counts what each recipient received. After SIGKILL
only the messages in flight on the open connections may be in doubt: by default the second run
sends them again (nobody missing, at most one duplicate per connection); with --at-most-once it
reports them as possibly sent and sends them to nobody again. After SIGTERM nothing is in doubt.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, select

from actwatch.config import parse_config
from actwatch.db.schema import deliveries
from tests.delivery.conftest import ENV, config_data, make_approved
from tests.delivery.smtp import Sink, running

READERS = 240
CONNECTIONS = 4
# With PIPELINING each connection also writes its next message's envelope ahead, with the
# current body: that envelope must never turn into a message, whatever stops the run.
PIPELINING = pytest.mark.parametrize("pipelining", [False, True], ids=["plain", "pipelining"])


def actwatch(config_file: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, **ENV, "COLUMNS": "200"}
    return subprocess.Popen(
        [sys.executable, "-m", "actwatch", "--config", str(config_file), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def prepare(
    tmp_path: Path, repo_config_data: dict[str, Any], engine: Engine, database_url: str, sink: Sink
) -> Path:
    data = config_data(repo_config_data, sink.url)
    data["database"] = {"url": database_url}
    data["mail"]["connections"] = CONNECTIONS
    data["mail"]["batch_size"] = 20
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    config = parse_config(data, path)
    approved = make_approved(engine, config)
    readers = tmp_path / "readers.csv"
    strands = ["", "care-leavers", "safeguarding-partnerships;corporate-parenting"]
    readers.write_text(
        "email,name,strands\n"
        + "".join(f"reader{i}@example.org,Reader {i},{strands[i % 3]}\n" for i in range(READERS)),
        encoding="utf-8",
    )
    from actwatch.subscribers import import_file

    assert import_file(engine, config, readers).added == READERS
    assert approved.bulletin_id == 1
    return path


def wait_for(sink: Sink, count: int, process: subprocess.Popen[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while sink.total() < count:
        if process.poll() is not None:
            pytest.fail(f"actwatch send ended early: {process.communicate()}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("actwatch send made no progress")
        time.sleep(0.01)


def states(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        found: dict[str, int] = {}
        for (state,) in connection.execute(select(deliveries.c.state)):
            found[state] = found.get(state, 0) + 1
    return found


def kill_mid_run(config_file: Path, sink: Sink, engine: Engine) -> int:
    """SIGKILL a send a third of the way through; how many rows it left in doubt."""
    first = actwatch(config_file, "send", "1")
    wait_for(sink, READERS // 3, first)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    first.communicate()
    assert sink.total() < READERS, "the run finished before it could be killed"
    # Give the server a moment to finish any DATA that was complete on the wire.
    time.sleep(0.2)
    in_doubt = states(engine).get("sending", 0)
    assert in_doubt <= CONNECTIONS
    return in_doubt


def kill_then_resume(
    tmp_path: Path,
    repo_config_data: dict[str, Any],
    engine: Engine,
    database_url: str,
    pipelining: bool,
    *options: str,
) -> tuple[Counter[str], int, str]:
    """Kill a send mid-run, then send again (with `options`): the copies each reader got, how
    many messages were in doubt at the kill, and what the second run printed."""
    with running(Sink(delay=0.01, keep=False, pipelining=pipelining)) as sink:
        config_file = prepare(tmp_path, repo_config_data, engine, database_url, sink)
        in_doubt = kill_mid_run(config_file, sink, engine)
        second = actwatch(config_file, "send", "1", *options)
        out, err = second.communicate(timeout=120)
        assert second.returncode == 0, (out, err)
    return sink.counts, in_doubt, out


@pytest.mark.slow
@PIPELINING
def test_sigkill_mid_run_then_resume_misses_nobody(
    tmp_path: Path,
    repo_config_data: dict[str, Any],
    engine: Engine,
    database_url: str,
    pipelining: bool,
) -> None:
    counts, in_doubt, out = kill_then_resume(
        tmp_path, repo_config_data, engine, database_url, pipelining
    )
    assert len(counts) == READERS, "someone is missing"
    duplicates = sum(n - 1 for n in counts.values())
    assert duplicates <= in_doubt <= CONNECTIONS
    if in_doubt:
        were = "message was" if in_doubt == 1 else "messages were"
        assert f"{in_doubt} {were} in flight" in out
        assert "sent again" in out
    assert states(engine) == {"sent": READERS}
    assert "Done: the bulletin is sent." in out


@pytest.mark.slow
@PIPELINING
def test_sigkill_then_resume_at_most_once_sends_nobody_twice(
    tmp_path: Path,
    repo_config_data: dict[str, Any],
    engine: Engine,
    database_url: str,
    pipelining: bool,
) -> None:
    counts, in_doubt, out = kill_then_resume(
        tmp_path, repo_config_data, engine, database_url, pipelining, "--at-most-once"
    )
    assert all(n == 1 for n in counts.values()), "someone got two copies"
    missing = READERS - len(counts)
    # Only in-flight messages may be missing, and the second run names them.
    assert missing <= in_doubt <= CONNECTIONS
    if in_doubt:
        were = "message was" if in_doubt == 1 else "messages were"
        assert f"{in_doubt} {were} in flight" in out
        assert "NOT sent again" in out
    final = states(engine)
    assert final.get("sent", 0) + final.get("sending", 0) == READERS
    assert final.get("sending", 0) == in_doubt


@pytest.mark.slow
@PIPELINING
def test_sigterm_mid_run_loses_and_duplicates_nothing(
    tmp_path: Path, repo_config_data: dict[str, Any], sqlite_engine: Engine, pipelining: bool
) -> None:
    url = str(sqlite_engine.url)
    with running(Sink(delay=0.01, keep=False, pipelining=pipelining)) as sink:
        config_file = prepare(tmp_path, repo_config_data, sqlite_engine, url, sink)
        first = actwatch(config_file, "send", "1")
        wait_for(sink, READERS // 3, first)
        first.send_signal(signal.SIGTERM)
        out1, err1 = first.communicate(timeout=60)
        # Stopped cleanly, but the job is not done: not a success.
        assert first.returncode == 1, err1
        assert "pending" in err1.splitlines()[-1]
        assert "Stopping (SIGTERM)" in err1
        assert "Stopped before the end" in out1
        stopped = states(sqlite_engine)
        assert stopped.get("sending", 0) == 0
        assert stopped["sent"] == sink.total() < READERS

        second = actwatch(config_file, "send", "1")
        out2, err2 = second.communicate(timeout=120)
        assert second.returncode == 0, err2
    assert len(sink.counts) == READERS
    assert set(sink.counts.values()) == {1}
    assert "possibly sent" not in out2
    assert states(sqlite_engine) == {"sent": READERS}
