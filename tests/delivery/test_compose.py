"""Token slots: a reader's token dropped into the encoded message equals encoding it directly."""

from __future__ import annotations

import random
import re
import string

from actwatch.delivery.compose import MessageTemplate, to_header
from actwatch.mail import Address, build_message
from actwatch.subscribers import LINK_TOKEN_LENGTH

ALPHABET = string.ascii_letters + string.digits + "-_."


def dot_stuffed(data: bytes) -> bytes:
    """SMTP's transparency (RFC 5321, 4.5.2), as smtplib applies it: a line that starts with
    a full stop gets another."""
    return re.sub(rb"(?m)^\.", b"..", data)


def token(rng: random.Random, start: str = "") -> str:
    rest = "".join(rng.choice(ALPHABET) for _ in range(LINK_TOKEN_LENGTH - len(start)))
    return start + rest


def serialise(text: str, html: str) -> bytes:
    message = build_message(
        sender=Address("bulletin@actwatch.example.org"),
        to=Address("reader@example.org"),
        subject="Slots",
        text=text,
        html=html,
        headers={"List-Unsubscribe": f"<https://x.example/u/{text[-LINK_TOKEN_LENGTH:]}>"},
    )
    data = message.as_bytes()
    # Only the content matters here: the random parts are made equal.
    data = re.sub(rb"Message-ID: <[^>]+>", b"Message-ID: <1@x>", data)
    data = re.sub(rb"Date: [^\r]+", b"Date: Mon, 04 Dec 2017 10:00:00 +0000", data)
    return re.sub(rb"===============\d+==", b"=====b==", data)


def body(t: str, shift: int) -> str:
    # Lines of every length put the token across QP soft breaks at every offset, and lines
    # that start with a dot need SMTP dot-stuffing.
    return (
        "x" * shift
        + f" https://x.example/unsubscribe/{t}\n.dot line\n"
        + "é" * shift
        + f"{t}\n"
        + ("y" * 75 + t + "\n") * 2
        + t
    )


def html(t: str, shift: int) -> str:
    return f'<a href="https://x.example/u/{t}">.</a>\n' + "z" * shift + t


def test_filled_template_equals_direct_encoding_wherever_the_soft_breaks_fall() -> None:
    rng = random.Random(7)
    placeholder = "f" * LINK_TOKEN_LENGTH
    for shift in range(0, 90, 3):
        for real in (token(rng), token(rng, "."), "." * LINK_TOKEN_LENGTH):
            expected = serialise(body(real, shift), html(real, shift))
            template = MessageTemplate(
                serialise(body(placeholder, shift), html(placeholder, shift)), placeholder
            )
            assert b"".join(template.fill(real)) == expected
            assert b"".join(template.fill(real, stuffed=True)) == dot_stuffed(expected)


def test_to_header_quotes_and_encodes_names() -> None:
    assert to_header("a@example.org", None) == b"To: a@example.org\r\n"
    assert to_header("a@example.org", 'Jo "JB" Broad, Ltd.') == (
        b'To: "Jo \\"JB\\" Broad, Ltd." <a@example.org>\r\n'
    )
    encoded = to_header("a@example.org", "Zoë Ó Briain")
    assert encoded.startswith(b"To: =?utf-8?") and encoded.endswith(b"<a@example.org>\r\n")
