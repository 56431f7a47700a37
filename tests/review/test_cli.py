"""The review and editor commands through the real command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from actwatch.cli import main
from actwatch.config import load_config
from actwatch.db import open_database
from actwatch.db.schema import bulletins
from actwatch.editors import find_editor, verify_password
from actwatch.mail import MaildirTransport
from tests.bulletin.fixtures import insert_fixture


def run(config_file: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["--config", str(config_file), *args], input=stdin, terminal_width=200
    )
    return result.exit_code, result.output


def test_review_from_first_look_to_scheduled(
    write_pinned_config: Callable[..., Path], tmp_path: Path
) -> None:
    config_file = write_pinned_config()
    config = load_config(config_file)
    engine = open_database(config)
    ids = insert_fixture(engine)
    engine.dispose()
    code, output = run(config_file, "draft", "autumn-2017")
    assert code == 0 and "Told editor@actwatch.example.org that the draft is ready." in output
    assert config.maildir is not None
    [told] = MaildirTransport(config.maildir).messages()
    assert told["Subject"].startswith("Draft ready for review")

    code, output = run(config_file, "review", "autumn-2017")
    assert code == 0, output
    assert "Bulletin 1 (autumn-2017): Draft, revision 1, not approved." in output
    assert "No introduction yet." in output
    assert "actwatch approve 1 " in output and "actwatch submit 1 " in output

    code, output = run(config_file, "exclude", "1", str(ids[4]), "--by", "Jo Broad")
    assert code == 0 and f"item {ids[4]} excluded (revision 2)" in output
    code, output = run(config_file, "exclude", "1", str(ids[4]))
    assert code == 1 and "already excluded" in output
    intro = tmp_path / "intro.md"
    intro.write_text("Autumn brought **news**.\n", encoding="utf-8")
    code, output = run(config_file, "intro", "1", "--file", str(intro), "--by", "Jo Broad")
    assert code == 0 and "introduction set (revision 3)" in output
    code, output = run(config_file, "schedule", "1", "--at", "2099-01-01T09:00")
    assert code == 1 and "cannot schedule a bulletin that is draft" in output

    code, output = run(config_file, "approve", "1", "--by", "Jo Broad")
    assert code == 0 and "Approved bulletin 1 (revision 3) as Jo Broad" in output
    code, output = run(config_file, "schedule", "1", "--at", "2099-06-01 09:30")
    assert code == 0 and "will be sent at 01 Jun 2099 09:30 BST" in output
    code, output = run(config_file, "test-send", "1", "--to", "me@example.org")
    assert code == 0 and "Sent the approved copy of bulletin 1 to me@example.org" in output

    code, output = run(config_file, "include", "1", str(ids[4]), "--by", "Sam")
    assert code == 0 and "The approval was discarded" in output
    code, output = run(config_file, "review", "1", "--json")
    data = json.loads(output)
    assert data["state"] == "in_review" and data["content_hash"] is None
    code, output = run(config_file, "withdraw", "1", "--reason", "Not this time")
    assert code == 0
    code, output = run(config_file, "audit", "1", "--json")
    actions = [json.loads(line)["action"] for line in output.splitlines()]
    assert actions[:4] == ["withdraw", "include_item", "reset_approval", "test_send"]

    engine = open_database(config)
    with engine.connect() as connection:
        assert connection.execute(select(bulletins.c.state)).scalar_one() == "withdrawn"
    engine.dispose()
    code, output = run(config_file, "review", "nope-2017")
    assert code == 1 and "no bulletin 'nope-2017'" in output


def test_editor_accounts(write_pinned_config: Callable[..., Path]) -> None:
    config_file = write_pinned_config()
    code, output = run(config_file, "editors", "list")
    assert code == 0 and "No editors yet" in output
    code, output = run(
        config_file, "editors", "add", "Jo Broad", "--password-stdin", stdin="short\n"
    )
    assert code == 1 and "at least 10 characters" in output
    secret = "a long enough password"
    code, output = run(
        config_file, "editors", "add", "Jo Broad", "--password-stdin", stdin=secret + "\n"
    )
    assert code == 0 and "Added editor 'Jo Broad'" in output
    code, output = run(
        config_file, "editors", "add", "jo broad", "--password-stdin", stdin="x" * 12
    )
    assert code == 1 and "already an editor" in output
    code, output = run(
        config_file,
        "editors",
        "add",
        "Sam",
        "--email",
        "sam@localhost",
        "--password-stdin",
        stdin=secret + "\n",
    )
    assert code == 1 and "not an email address" in output
    engine = open_database(load_config(config_file))
    from actwatch.db.schema import editors

    with engine.connect() as connection:
        stored = connection.execute(select(editors.c.password_hash)).scalar_one()
    engine.dispose()
    # OWASP's cost for scrypt: N=2^17, r=8, p=1.
    assert stored.startswith("scrypt$131072$8$1$") and secret not in stored
    assert verify_password(secret, stored) and not verify_password("wrong", stored)
    code, output = run(config_file, "editors", "list")
    assert code == 0 and "Jo Broad" in output
    code, output = run(config_file, "editors", "remove", "Jo Broad")
    assert code == 0
    engine = open_database(load_config(config_file))
    assert find_editor(engine, "Jo Broad") is None
    engine.dispose()


def test_the_web_editor_needs_a_secret(
    write_pinned_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACTWATCH_SECRET_KEY", raising=False)
    code, output = run(write_pinned_config(), "web")
    assert code == 1 and "set the environment variable ACTWATCH_SECRET_KEY" in output
