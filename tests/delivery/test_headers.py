"""Header safety (issue 12, item 2): hostile names and headlines never make a header of their
own, never put a control character in one, and come back exactly as the cleaned text.

Every raw message is parsed with `BytesParser(policy=email.policy.default)`, the parser whose
decoding of encoded words turned an editor's headline into a real `Bcc:` line on Python 3.11.7
and 3.12.1; the headers are built by hand (`actwatch.mail.headers`), so what is checked here
is the bytes, not the release.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import unicodedata
from collections.abc import Callable
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

import actwatch
from actwatch.config import Config
from actwatch.core.text import one_line
from actwatch.db.schema import subscribers
from actwatch.delivery import send_bulletin
from actwatch.delivery.compose import to_header
from actwatch.mail import Address, MaildirTransport, build_message, list_headers
from actwatch.mail.headers import MAX_LINE, address_header, as_bytes, unstructured
from actwatch.review import approve, send_test_copy
from actwatch.review.editing import set_headline
from actwatch.review.records import load_row
from tests.delivery.conftest import APPROVED_AT, ENV, Approved
from tests.delivery.smtp import Sink
from tests.review.conftest import make_draft

# Base64 of "\r\nBcc: victim@example.org".
_B_CRLF_BCC = "=?utf-8?b?DQpCY2M6IHZpY3RpbUBleGFtcGxlLm9yZw==?="

HOSTILE = {
    "crlf-bcc": "Evil\r\nBcc: victim@example.org",
    "bare-cr": "Evil\rBcc: victim@example.org",
    "bare-lf": "Evil\nBcc: victim@example.org\nX-Evil: 1",
    "crlf-crlf-body": "Evil\r\n\r\nA body of my own",
    "nul-esc": "Nul\x00Esc\x1b[31mRed\x7fDel",
    "c1": "Csi\x9bNel\x85End",
    "unicode-breaks": "Line\u2028Separator\u2029Paragraph\u0085Next",
    "issue-12": "x: =?utf-8?q?a=0D=0Ab?=",
    "encoded-bcc": "=?utf-8?q?=0D=0ABcc:_victim@example.org?=",
    "encoded-b": _B_CRLF_BCC,
    "encoded-mid-word": "abc=?utf-8?q?=0D=0ABcc:_v@example.org?=def",
    "encoded-quoted": '"=?utf-8?q?=0D=0ABcc:_v@example.org?=" <evil@example.org>',
    "encoded-after-unicode": "Zoë =?utf-8?q?=0D=0ABcc:_v@example.org?=",
    "angle-address": "<victim@example.org>, other@example.org",
    "quotes-backslashes": 'Jo "JB" \\ Broad, Ltd.',
    "tabs-spaces": "  \t Alex \t\t All  ",
    "lone-surrogate": "Lone\ud800Surrogate",
    "long-ascii": "Bcc: victim@example.org " + "long name " * 60,
    "long-word": "x" * 300,
    "non-ascii": "Zoë Ó Briain-Ní Dhomhnaill",
    "long-non-ascii": "Zoë Ó Briain " * 30,
    "cjk": "山田太郎",
    "rtl": "مريم الحسيني",
    "only-controls": "\r\n\x00\x1b",
}
# A run of non-ASCII this long needs several encoded words in a row: RFC 2047 readers join
# them; Python's address parser keeps a space at each join (see `actwatch.mail.headers`).
LONG_RUN = "山田太郎" * 25

_PARSER = BytesParser(policy=policy.default)


def parse(raw: bytes) -> EmailMessage:
    message = _PARSER.parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def header_names(raw: bytes) -> list[str]:
    """The header names of the raw message's top header block, as any reader finds them."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    return [
        line.split(b":", 1)[0].decode("ascii")
        for line in head.split(b"\r\n")
        if line and line[:1] not in (b" ", b"\t")
    ]


def is_control(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp")


def assert_safe(raw: bytes, expected: list[str]) -> EmailMessage:
    """`raw` has exactly the `expected` headers (in order), in ASCII lines ended by CRLF, and
    no header value, decoded, holds a control character."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert b"\r" not in head.replace(b"\r\n", b"") and b"\n" not in head.replace(b"\r\n", b"")
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))
    assert header_names(raw) == expected
    message = parse(raw)
    assert [name for name, _ in message.items()] == expected
    for name, value in message.items():
        assert not any(is_control(c) for c in str(value)), (name, str(value))
        assert not message[name].defects, (name, message[name].defects)
    return message


_TOKEN = re.compile(
    r'"((?:[^"\\]|\\.)*)"|(=\?[^?\s]+\?[qQbB]\?[^?\s]*\?=)|<([^>]*)>|(,)|([^\s"<>,]+)'
)


def raw_display_name(raw: bytes, header: str = "To") -> str:
    """The display name of the first mailbox of `header` as RFC 2047 (6.2) reads it: quoted
    strings unquoted, atoms as they are, encoded words decoded, and the space between two
    encoded words dropped."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii").replace("\r\n ", " ")
    [line] = [line for line in head.split("\r\n") if line.startswith(f"{header}: ")]
    words: list[tuple[bool, str]] = []
    for quoted, encoded, angle, comma, atom in _TOKEN.findall(line[len(header) + 2 :]):
        if angle:
            break
        if comma:
            return ""  # a bare address
        if encoded:
            words.append((True, str(make_header(decode_header(encoded)))))
        else:
            words.append((False, atom or re.sub(r"\\(.)", r"\1", quoted)))
    else:
        return ""  # a bare address
    text = ""
    for index, (is_encoded, word) in enumerate(words):
        joined = index and is_encoded and words[index - 1][0]
        text += word if not index or joined else " " + word
    return text


def display_name(message: EmailMessage, raw: bytes, header: str = "To") -> str:
    """The display name, which Python's parser and an RFC 2047 reader both read back.

    Python's address parser keeps the space between two encoded words that RFC 2047 drops:
    where a run of words needed more than one (`actwatch.mail.headers`), only the RFC reading
    is exact, and Python's differs by those spaces alone."""
    python = str(message[header].addresses[0].display_name)
    rfc = raw_display_name(raw, header)
    if python != rfc:
        assert python.replace(" ", "") == rfc.replace(" ", ""), (python, rfc)
    return rfc


def test_one_line_is_the_cleaning() -> None:
    for dirty in HOSTILE.values():
        clean = one_line(dirty)
        assert not any(is_control(c) for c in clean) and "  " not in clean
    # Encoded words are text: nothing is decoded.
    assert one_line(HOSTILE["encoded-bcc"]) == HOSTILE["encoded-bcc"]


@pytest.mark.parametrize("name", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_readers_to_line_carries_only_their_cleaned_name(name: str) -> None:
    raw = (
        to_header("reader@example.org", name)
        + b"Date: Mon, 04 Dec 2017 10:00:00 +0000\r\nMessage-ID: <1.2@actwatch.example.org>\r\n"
        + b"\r\nbody\r\n"
    )
    message = assert_safe(raw, ["To", "Date", "Message-ID"])
    [address] = message["To"].addresses
    assert address.addr_spec == "reader@example.org"
    assert display_name(message, raw) == one_line(name)
    head = raw.split(b"\r\n\r\n")[0]
    assert (
        all(len(line) <= MAX_LINE for line in head.split(b"\r\n")) or name == HOSTILE["long-word"]
    )


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_every_header_of_a_built_message_is_safe(text: str) -> None:
    """Subject, From, To, Reply-To and an extra header, all from hostile text at once."""
    built = build_message(
        sender=Address("bulletin@actwatch.example.org", text),
        to=[Address("a@example.org", text), Address("b@example.org", "Bo")],
        reply_to=Address("editor@example.org", text),
        subject=text,
        text="Plain words.\n",
        html="<p>Words</p>",
        headers={
            "X-Actwatch-Test": text,
            **list_headers(
                list_id="news.example.org", list_name=text, unsubscribe_url="https://x/u"
            ),
        },
    )
    raw = built.as_bytes()
    expected = ["From", "To", "Reply-To", "Subject", "Date", "Message-ID", "X-Actwatch-Test"]
    lists = ["List-Id", "List-Unsubscribe", "List-Unsubscribe-Post"]
    message = assert_safe(raw, [*expected, *lists, "MIME-Version", "Content-Type"])
    # The list's description is plain ASCII, or left out.
    list_id = str(message["List-Id"])
    assert list_id.endswith("<news.example.org>") and "=?" not in list_id
    assert str(message["List-Unsubscribe"]) == "<https://x/u>"
    clean = one_line(text)
    assert message["Subject"] == clean and message["X-Actwatch-Test"] == clean
    assert display_name(message, raw, "From") == clean
    assert display_name(message, raw, "Reply-To") == clean
    assert display_name(message, raw, "To") == clean
    assert message["To"].addresses[1].display_name == "Bo"
    assert [a.addr_spec for a in message["To"].addresses] == ["a@example.org", "b@example.org"]


def test_headers_are_the_same_bytes_on_every_python() -> None:
    """Built by hand, so these bytes are what any release writes."""
    assert to_header("a@example.org", HOSTILE["issue-12"]) == (
        b'To: "x:" =?utf-8?b?PT91dGYtOD9xP2E9MEQ9MEFiPz0=?= <a@example.org>\r\n'
    )
    assert as_bytes(unstructured("Subject", "Care leavers =?utf-8?q?=0D=0ABcc:_v@x.org?=")) == (
        b"Subject: Care leavers =?utf-8?b?PT91dGYtOD9xPz0wRD0wQUJjYzpfdkB4Lm9yZz89?=\r\n"
    )
    assert to_header("a@example.org", 'Jo "JB" Broad, Ltd.') == (
        b'To: "Jo \\"JB\\" Broad, Ltd." <a@example.org>\r\n'
    )
    assert to_header("a@example.org", "Alex All") == b"To: Alex All <a@example.org>\r\n"
    assert to_header("a@example.org", " \r\n ") == b"To: a@example.org\r\n"
    assert as_bytes(unstructured("Subject", "Autumn – news")) == (
        b"Subject: Autumn =?utf-8?b?4oCT?= news\r\n"
    )


def test_a_long_run_of_non_ascii_comes_back_whole_to_an_rfc_2047_reader() -> None:
    lines = address_header("To", [("a@example.org", LONG_RUN)])
    assert len(lines) > 2 and all(len(line) <= MAX_LINE for line in lines)
    message = assert_safe(as_bytes(lines) + b"\r\n", ["To"])
    assert message["To"].addresses[0].addr_spec == "a@example.org"
    phrase = "".join(lines)[len("To: ") :].rsplit(" <", 1)[0]
    assert str(make_header(decode_header(phrase))) == LONG_RUN
    assert parse(as_bytes(unstructured("Subject", LONG_RUN)) + b"\r\n")["Subject"] == LONG_RUN


@pytest.mark.parametrize(
    "email",
    [
        "victim@example.org\r\nBcc: x@example.org",
        "a@example.org, b@example.org",
        "=?utf-8?q?a=0D=0Ab?=@example.org",
        "a@exa mple.org",
        "<a@example.org>",
        "a\x00@example.org",
        "",
    ],
)
def test_an_address_no_header_can_carry_is_refused(email: str) -> None:
    with pytest.raises(ValueError):
        to_header(email, "Name")
    with pytest.raises(ValueError, match="not an email address"):
        build_message(sender=Address("b@example.org"), to=Address(email), subject="s", text="t")


def hostile_readers(target: Approved, add_readers: Callable[..., None]) -> dict[str, str]:
    """One reader per hostile name: the name as stored before entry cleaning existed (written
    straight into the table), so only the header building stands between it and the mail."""
    # A lone surrogate cannot be stored at all (entry cleaning removes it: tests/subscribers).
    emails = {key: f"{key}@example.org" for key in HOSTILE if key != "lone-surrogate"}
    add_readers(
        target,
        "email,name,strands\n"
        + "".join(f"{email},Placeholder,\n" for email in emails.values())
        + "plain@example.org,Pat Plain,\n",
    )
    with target.engine.begin() as connection:
        for key, email in emails.items():
            connection.execute(
                update(subscribers).where(subscribers.c.email == email).values(name=HOSTILE[key])
            )
    return {email: HOSTILE[key] for key, email in emails.items()}


def test_poisoned_names_and_headline_reach_nobody_as_headers(
    sqlite_engine: Engine, config: Config, add_readers: Callable[..., None], sink: Sink
) -> None:
    draft = make_draft(sqlite_engine, config)
    headline = "Care leavers =?utf-8?q?=0D=0ABcc:_victim@example.org?= news\r\nBcc: x@example.org"
    set_headline(sqlite_engine, draft.bulletin_id, headline, actor="Ed")
    with sqlite_engine.connect() as connection:  # cleaned where it entered, nothing decoded
        assert load_row(connection, draft.bulletin_id).headline == one_line(headline)
    approve(sqlite_engine, config, draft.bulletin_id, by="Ed", now=APPROVED_AT)
    target = Approved(sqlite_engine, config, draft.bulletin_id)
    names = hostile_readers(target, add_readers)
    report = send_bulletin(sqlite_engine, config, draft.bulletin_id, env=ENV)
    assert (report.sent, report.failed) == (len(names) + 1, 0)

    with sink.lock:
        received = list(sink.received)
    assert sorted(rcpt for rcpt, _ in received) == sorted([*names, "plain@example.org"])
    expected = [
        "To",
        "Date",
        "Message-ID",
        "From",
        "Reply-To",
        "Subject",
        "List-Id",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "List-Archive",
        "MIME-Version",
        "Content-Type",
    ]
    for rcpt, raw in received:
        message = assert_safe(raw, expected)
        assert message["To"].addresses[0].addr_spec == rcpt
        assert display_name(message, raw) == one_line(names.get(rcpt, "Pat Plain"))
        assert message["Subject"] == (
            "Care leavers =?utf-8?q?=0D=0ABcc:_victim@example.org?= news Bcc: x@example.org"
            " – Autumn 2017 news"
        )


def test_a_test_send_with_a_poisoned_headline_is_safe(
    sqlite_engine: Engine, config: Config, tmp_path: Path
) -> None:
    draft = make_draft(sqlite_engine, config)
    set_headline(sqlite_engine, draft.bulletin_id, HOSTILE["encoded-bcc"], actor="Ed")
    box = MaildirTransport(tmp_path / "box")
    send_test_copy(  # the draft as approving it would freeze it
        sqlite_engine, config, draft.bulletin_id, "me@example.org", actor="Ed", transport=box
    )
    approve(sqlite_engine, config, draft.bulletin_id, by="Ed", now=APPROVED_AT)
    send_test_copy(  # the frozen copy
        sqlite_engine, config, draft.bulletin_id, "me@example.org", actor="Ed", transport=box
    )
    files = sorted((tmp_path / "box" / "new").iterdir())
    assert len(files) == 2
    for file in files:
        raw = file.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        message = parse(raw)
        names = header_names(raw)
        assert "Bcc" not in names and names.count("To") == 1 and names.count("Subject") == 1
        for name, value in message.items():
            assert not any(is_control(c) for c in str(value)), (name, str(value))
        assert str(message["Subject"]).startswith(f"[Test] {HOSTILE['encoded-bcc']} – ")


_SAME_BYTES = """
import hashlib, json, sys
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from actwatch.mail.message import Address, build_message, list_headers
out = b""
for text in json.loads(sys.argv[1]):
    built = build_message(
        sender=Address("b@example.org", text),
        to=Address("r@example.org", text),
        subject=text,
        text="t\\n",
        date=datetime(2017, 12, 4, tzinfo=UTC),
        headers=list_headers(list_id="l.example.org", list_name=text, unsubscribe_url="https://x/u"),
    )
    del built["Message-ID"]
    built["Message-ID"] = "<1@example.org>"
    raw = built.as_bytes()
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert [k for k, _ in parsed.items()][:4] == ["From", "To", "Subject", "Date"], raw
    assert all("\\r" not in str(v) and "\\n" not in str(v) for _, v in parsed.items()), raw
    out += raw
print(hashlib.sha256(out).hexdigest())
"""


def installed_pythons() -> list[str]:
    """Interpreters on this machine: this one, those on PATH, the system's, pyenv's."""
    names = [sys.executable, "/usr/bin/python3"]
    names += [p for p in (shutil.which(f"python3.{minor}") for minor in range(11, 16)) if p]
    names += sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.*/bin/python3"))
    return [name for name in dict.fromkeys(names) if Path(name).exists()]


def test_the_same_bytes_and_no_injection_on_every_installed_python(tmp_path: Path) -> None:
    """Every Python found here builds the same bytes for the hostile texts, and parses them
    back without an extra header. The modules run alone (they need nothing but the standard
    library), so any installed interpreter can run them."""
    package = tmp_path / "actwatch"
    source = Path(actwatch.__file__).parent
    for part in ("core/text.py", "mail/headers.py", "mail/message.py"):
        (package / part).parent.mkdir(parents=True, exist_ok=True)
        (package / part).write_text((source / part).read_text(encoding="utf-8"), "utf-8")
    for folder in (package, package / "core", package / "mail"):
        (folder / "__init__.py").write_text("", encoding="utf-8")
    texts = json.dumps([t for k, t in HOSTILE.items() if k != "lone-surrogate"])
    digests: dict[str, str] = {}
    for found in installed_pythons():
        asked = [found, "-I", "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"]
        version = subprocess.run(asked, capture_output=True, text=True, timeout=60).stdout.strip()
        if not re.fullmatch(r"3\.(1[1-9]|[2-9]\d)\.\d+", version):
            continue  # not a release the project supports (or a shim with none behind it)
        script = f"import sys\nsys.path.insert(0, {str(tmp_path)!r})\n{_SAME_BYTES}"
        run = subprocess.run(
            [found, "-I", "-c", script, texts], capture_output=True, text=True, timeout=60
        )
        assert run.returncode == 0, (version, run.stderr)
        digests[version] = run.stdout.strip()
    assert digests, "no Python found"
    assert len(set(digests.values())) == 1, digests
    print("same header bytes on Python", ", ".join(sorted(digests)))
