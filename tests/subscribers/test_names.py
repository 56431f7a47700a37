"""Names are cleaned where they enter (issue 12, item 2): a CSV import, an editor adding a
subscriber, the public sign-up form. Each stores one line of text with no control character,
its encoded words kept as the literal text they are; a row that cannot be imported is reported
with its line, and never stops the others."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from actwatch.config import Config, parse_config
from actwatch.core.text import one_line
from actwatch.mail import MaildirTransport
from actwatch.subscribers import find_subscriber, import_file, list_subscribers
from actwatch.subscribers.imports import add_by_hand
from actwatch.subscribers.store import NAME_LIMIT
from actwatch.web import create_app

SECRET = "names-test-secret-" + "s" * 40
ENCODED_BCC = "=?utf-8?q?=0D=0ABcc:_victim@example.org?="


def clean(text: str | None) -> bool:
    return text is None or (
        not any(unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") for c in text)
        and text == text.strip()
        and "  " not in text
    )


def test_a_csv_of_hostile_names_imports_each_cleaned(
    engine: Engine, config: Config, tmp_path: Path
) -> None:
    rows = [
        b"email,name,strands",
        b'crlf@example.org,"Evil\r\nBcc: victim@example.org",care-leavers',  # line 2 (2 lines)
        b"cr@example.org,Evil\x1b[31m\x00Red,",  # line 4
        b"issue@example.org,x: =?utf-8?q?a=0D=0Ab?=,",  # line 5
        b"bcc@example.org," + ENCODED_BCC.encode() + b",",  # line 6
        "seps@example.org,Line\u2028Sep\u0085Nel\u2029Para,".encode(),  # line 7
        "zoe@example.org,\tZoë   Ó Briain ,".encode(),  # line 8
        b"long@example.org," + b"Long name " * 80 + b",",  # line 9
        b"huge@example.org," + b"x" * 2000 + b",",  # line 10: over any field's length
        b"=?utf-8?q?a=0D=0Ab?=@example.org,Encoded Address,",  # line 11
        b"bytes@example.org,Bad \xff\xfe bytes,",  # line 12
        b"good@example.org,Good Reader,",  # line 13
    ]
    path = tmp_path / "hostile.csv"
    path.write_bytes(b"\r\n".join(rows) + b"\r\n")
    report = import_file(engine, config, path)

    reasons = {r.line: r.reason for r in report.rejected}
    assert sorted(reasons) == [10, 11, 12]
    assert "over 1,000 characters" in reasons[10]
    assert "encoded word" in reasons[11]
    assert "not UTF-8" in reasons[12]
    names = {s.email: s.name for s in list_subscribers(engine)}
    assert report.added == len(names) == 8
    assert names["crlf@example.org"] == "Evil Bcc: victim@example.org"
    assert names["cr@example.org"] == "Evil [31m Red"
    assert names["issue@example.org"] == "x: =?utf-8?q?a=0D=0Ab?="
    assert names["bcc@example.org"] == ENCODED_BCC  # literal text, nothing decoded
    assert names["seps@example.org"] == "Line Sep Nel Para"
    assert names["zoe@example.org"] == "Zoë Ó Briain"
    long_name = names["long@example.org"]
    assert long_name is not None and len(long_name) <= NAME_LIMIT
    assert long_name == one_line("Long name " * 80)[:NAME_LIMIT].rstrip()
    assert names["good@example.org"] == "Good Reader"
    assert all(clean(name) for name in names.values())


@pytest.mark.parametrize(
    "name",
    ["Evil\r\nBcc: v@example.org", "Lone\ud800Surrogate\x00", ENCODED_BCC, "  \r\n  ", "é" * 500],
)
def test_an_editor_adding_a_subscriber_stores_a_clean_name(
    sqlite_engine: Engine, config: Config, name: str
) -> None:
    report = add_by_hand(sqlite_engine, config, email="new@example.org", name=name, by="Ed\r\nX")
    assert (report.added, report.rejected) == (1, [])
    found = find_subscriber(sqlite_engine, "new@example.org")
    assert found is not None and clean(found.name)
    assert found.name == (one_line(name)[:NAME_LIMIT].rstrip() or None)
    assert "\n" not in found.consent_source and "\r" not in found.consent_source


@pytest.fixture
def outbox(tmp_path: Path) -> MaildirTransport:
    return MaildirTransport(tmp_path / "outbox")


@pytest.fixture
def client(
    engine: Engine, tmp_path: Path, repo_config_data: dict[str, Any], outbox: MaildirTransport
) -> Iterator[TestClient]:
    data = dict(repo_config_data)
    data["database"] = {"url": "sqlite:///unused.db"}
    data["web"] = {**data.get("web", {}), "base_url": "https://actwatch.example.org"}
    config = parse_config(data, tmp_path / "config.yaml")
    app = create_app(
        config, engine, env={"ACTWATCH_SECRET_KEY": SECRET}, transport_factory=lambda: outbox
    )
    with TestClient(app, base_url="https://actwatch.example.org") as test_client:
        yield test_client


def form_token(client: TestClient) -> str:
    page = client.get("/subscribe").text
    marker = 'name="form_token" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def test_the_sign_up_form_stores_a_clean_name_and_mails_it_safely(
    engine: Engine, client: TestClient, outbox: MaildirTransport, tmp_path: Path
) -> None:
    hostile = f"Evil\r\nBcc: victim@example.org\x00 {ENCODED_BCC}\u2028x"
    response = client.post(
        "/subscribe",
        data={"form_token": form_token(client), "email": "new@example.org", "name": hostile},
    )
    assert response.status_code == 200, response.text
    found = find_subscriber(engine, "new@example.org")
    assert found is not None and found.status == "pending"
    assert found.name == f"Evil Bcc: victim@example.org {ENCODED_BCC} x"
    # The confirmation goes to them, under that name and nothing more.
    deadline = time.monotonic() + 20
    box = tmp_path / "outbox" / "new"
    while not (box.is_dir() and any(box.iterdir())):
        assert time.monotonic() < deadline, "no confirmation mail"
        time.sleep(0.02)
    [file] = box.iterdir()
    raw = file.read_bytes()
    head = raw.split(b"\n\n", 1)[0]
    assert head.isascii()
    names = [line.split(b":", 1)[0] for line in head.split(b"\n") if line[:1] not in b" \t"]
    assert b"Bcc" not in names and names.count(b"To") == 1
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    [address] = message["To"].addresses
    assert (address.addr_spec, address.display_name) == ("new@example.org", found.name)
    assert all(clean(str(value)) for _, value in message.items())
