"""DKIM: each message is signed over From, Subject, Date, Message-ID and the list headers, and
verifies against the public key (served by a stand-in for DNS)."""

from __future__ import annotations

import base64
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dkim

from actwatch.config import parse_config
from actwatch.delivery import send_bulletin
from tests.delivery.conftest import ENV, config_data, make_approved
from tests.delivery.smtp import Sink


def rsa_key(tmp_path: Path) -> tuple[bytes, bytes]:
    key = tmp_path / "dkim.pem"
    subprocess.run(
        ["openssl", "genrsa", "-traditional", "-out", str(key), "2048"],
        check=True,
        capture_output=True,
    )
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return key.read_bytes(), base64.b64encode(public)


def test_messages_are_signed_over_the_list_headers(
    tmp_path: Path,
    repo_config_data: dict[str, Any],
    sink: Sink,
    sqlite_engine: Any,
    add_readers: Callable[..., None],
) -> None:
    private, public = rsa_key(tmp_path)
    data = config_data(repo_config_data, sink.url)
    data["mail"] = {**data["mail"], "dkim_selector": "bulletin2017"}
    config = parse_config(data, tmp_path / "config.yaml")
    approved = make_approved(sqlite_engine, config)
    add_readers(approved)
    env = {**ENV, config.mail.dkim_key_env: private.decode()}
    report = send_bulletin(sqlite_engine, config, approved.bulletin_id, env=env)
    assert report.sent == 3

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"bulletin2017._domainkey.actwatch.example.org."
        return b"v=DKIM1; k=rsa; p=" + public

    with sink.lock:
        received = list(sink.received)
    for _rcpt, raw in received:
        assert dkim.verify(raw, dnsfunc=dns), raw[:400]
        signature = re.search(rb"DKIM-Signature:(.*?)\r\n(?![ \t])", raw, re.S)
        assert signature
        signed = re.search(rb"h=([^;]+);", re.sub(rb"\s+", b"", signature.group(1)))
        assert signed
        names = {n.lower() for n in signed.group(1).split(b":")}
        assert {b"from", b"subject", b"date", b"message-id", b"list-id"} <= names
        assert {b"list-unsubscribe", b"list-unsubscribe-post"} <= names
        tampered = raw.replace(
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"List-Unsubscribe-Post: x"
        )
        assert not dkim.verify(tampered, dnsfunc=dns)
