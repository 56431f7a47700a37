"""Mail header lines written by hand, so that their safety never depends on the Python release.

`email.headerregistry` parses a value before folding it, and so decodes any RFC 2047 encoded
word in it: a headline or a name holding `=?utf-8?q?=0D=0ABcc:_x@example.org?=` became a real
`Bcc:` line on Python 3.11.7 and 3.12.1 (both allowed), and crashed on others. Here nothing is
ever decoded. Every value is cleaned with `one_line` (no controls, no line breaks), split into
words, and each run of words is written the safest readable way:

- words of printable ASCII with no `=?` or `?=` in them (the marks of an encoded word, which
  readers decode anywhere, even inside quotes or the middle of a word) are written as they
  are: in a display name as atoms, or as an RFC 5322 quoted string when they hold specials;
- any other run of words is written as RFC 2047 encoded words of its literal text (UTF-8, Q or
  B, whichever is shorter, `=`, `?` and `_` themselves encoded), at most 75 characters each,
  the spaces between its words inside them, so a reader decodes it back to exactly the
  cleaned text and nothing more.

The result is ASCII lines (the first holds `Name: `), to be joined with CRLF, of at most 78
characters unless a single plain word is longer: that is written whole on a line of its own
(RFC 5322 allows 998), which every reader takes back exactly. Addresses are checked, not
cleaned: one that is not a plain ASCII addr-spec raises ValueError.

A long run of non-ASCII words needs several encoded words in a row. RFC 2047 (6.2) has readers
drop the space between two encoded words, and mail clients do; Python's own address parser
keeps it, so there it shows an extra space where the run was split (the text is still exactly
the words given, with no new header or control character).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Sequence

from actwatch.core.text import one_line

MAX_LINE = 78  # RFC 5322's recommended limit, without the CRLF
MAX_ENCODED_WORD = 75  # RFC 2047, 2
# A plain word longer than this is encoded (and so split): a line must stay under 998.
MAX_PLAIN_WORD = 900
_CHARSET = "utf-8"
# RFC 2047, 5 (3): the only characters a Q-encoded word in a phrase may carry unencoded.
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_PRINTABLE = re.compile(r"[ -~]*")
# Words of RFC 5322 atext only, which a phrase may carry without quotes.
_ATOMS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+")
_HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
# An address as `check_email` lets through: dot-atom text @ an ASCII (IDNA) domain.
_ADDR_SPEC = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)


def looks_encoded(text: str) -> bool:
    """Whether a mail reader could take part of `text` for an RFC 2047 encoded word."""
    return "=?" in text or "?=" in text


def is_plain(text: str) -> bool:
    """Printable ASCII that no reader could take for an encoded word: written as it is."""
    return _PRINTABLE.fullmatch(text) is not None and not looks_encoded(text)


def _q_byte(byte: int) -> str:
    if byte in _Q_SAFE:
        return chr(byte)
    return "_" if byte == 0x20 else f"={byte:02X}"


def _chunks(text: str, first: int, rest: int, cost: type[_Cost]) -> list[str]:
    """`text` as encoded words: the first at most `first` characters long, the others at most
    `rest`; a character's bytes are never split between two words (RFC 2047, 5)."""
    words: list[str] = []
    budget = first
    pending = b""
    for char in text:
        data = char.encode(_CHARSET)
        if pending and cost.word_length(pending + data) > budget:
            words.append(cost.word(pending))
            pending, budget = b"", rest
        pending += data
    if pending:
        words.append(cost.word(pending))
    return words


class _Cost:
    prefix = f"=?{_CHARSET}?"

    @classmethod
    def word(cls, data: bytes) -> str:
        raise NotImplementedError

    @classmethod
    def word_length(cls, data: bytes) -> int:
        return len(cls.word(data))


class _Q(_Cost):
    @classmethod
    def word(cls, data: bytes) -> str:
        return f"{cls.prefix}q?{''.join(_q_byte(b) for b in data)}?="

    @classmethod
    def word_length(cls, data: bytes) -> int:
        return len(cls.prefix) + 4 + sum(1 if b in _Q_SAFE or b == 0x20 else 3 for b in data)


class _B(_Cost):
    @classmethod
    def word(cls, data: bytes) -> str:
        return f"{cls.prefix}b?{base64.b64encode(data).decode('ascii')}?="

    @classmethod
    def word_length(cls, data: bytes) -> int:
        return len(cls.prefix) + 4 + 4 * ((len(data) + 2) // 3)


def encoded_words(text: str, first: int = MAX_ENCODED_WORD) -> list[str]:
    """`text` (taken literally) as RFC 2047 encoded words, the first at most `first` long."""
    first = max(min(first, MAX_ENCODED_WORD), 24)  # room for at least one character
    q = _chunks(text, first, MAX_ENCODED_WORD, _Q)
    b = _chunks(text, first, MAX_ENCODED_WORD, _B)
    return q if sum(map(len, q)) <= sum(map(len, b)) else b


def quoted_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def fold(name: str, tokens: Sequence[str], separators: Sequence[str] | None = None) -> list[str]:
    """The header's lines: `Name: ` and the tokens, each after its separator (a space by
    default), with a line break before a token that would make a line longer than MAX_LINE.
    A token is never split, so a line holds at least one."""
    if not _HEADER_NAME.fullmatch(name):
        raise ValueError(f"bad header name: {name!r}")
    lines = [f"{name}:"]
    for index, token in enumerate(tokens):
        separator = " " if separators is None or index == 0 else separators[index]
        glue = separator.rstrip(" ")  # a comma stays on the line it ends
        line = lines[-1]
        if index and len(line) + len(separator) + len(token) > MAX_LINE:
            lines[-1] = line + glue
            lines.append(" " + token)
        else:
            lines[-1] = line + separator + token
    for line in lines:
        if not line.isascii() or "\r" in line or "\n" in line:  # pragma: no cover - a bug here
            raise AssertionError(f"unsafe header line built: {line!r}")
    return lines


def _runs(text: str, plain: Callable[[str], bool]) -> list[tuple[bool, str]]:
    """`text`'s words grouped into runs of plain and of other words: (is plain, the run)."""
    # Two encoded words in a row are read as one text (the space between them dropped), so the
    # words between plain ones are encoded together, with their spaces inside.
    runs: list[tuple[bool, list[str]]] = []
    for word in text.split(" ") if text else []:
        kind = plain(word)
        if runs and runs[-1][0] == kind:
            runs[-1][1].append(word)
        else:
            runs.append((kind, [word]))
    return [(kind, " ".join(words)) for kind, words in runs]


def _plain_word(word: str) -> bool:
    return len(word) <= MAX_PLAIN_WORD and is_plain(word)


def unstructured(name: str, value: str) -> list[str]:
    """An unstructured header (Subject, or any text header) as lines: plain words as they are,
    other runs of words as encoded words."""
    room = MAX_LINE - len(name) - 2
    tokens: list[str] = []
    for plain, run in _runs(one_line(value), _plain_word):
        if plain:
            tokens.extend(run.split(" "))
        else:
            tokens.extend(encoded_words(run, room if not tokens else MAX_ENCODED_WORD))
    return fold(name, tokens)


def phrase(text: str, room: int = MAX_ENCODED_WORD) -> list[str]:
    """A display name as the tokens of an RFC 5322 phrase, the first at most `room` long: atoms,
    quoted strings and encoded words."""
    tokens: list[str] = []
    for plain, run in _runs(one_line(text), _plain_word):
        limit = room if not tokens else MAX_ENCODED_WORD
        if not plain:
            tokens.extend(encoded_words(run, limit))
        elif _ATOMS.fullmatch(run):
            tokens.extend(run.split(" "))
        elif len(quoted_string(run)) <= limit:
            tokens.append(quoted_string(run))
        else:
            tokens.extend(
                word if _ATOMS.fullmatch(word) else quoted_string(word) for word in run.split(" ")
            )
    return tokens


def check_address(email: str) -> str:
    """`email` if it is a plain ASCII addr-spec that no reader could take for anything else;
    else ValueError."""
    if not _ADDR_SPEC.fullmatch(email) or looks_encoded(email) or len(email) > 254:
        raise ValueError(f"not an address a header can carry: {email!r}")
    return email


def mailbox_tokens(email: str, display_name: str | None, room: int) -> list[str]:
    """A mailbox (`Name <addr>`, or the bare address) as tokens for `fold`."""
    address = check_address(email)
    tokens = phrase(display_name or "", room)
    return [*tokens, f"<{address}>"] if tokens else [address]


def address_header(name: str, mailboxes: Sequence[tuple[str, str | None]]) -> list[str]:
    """An address header (From, To, Reply-To) of `(email, display name)` pairs, as lines."""
    if not mailboxes:
        raise ValueError(f"{name} needs at least one address")
    tokens: list[str] = []
    separators: list[str] = []
    for position, (email, display_name) in enumerate(mailboxes):
        room = MAX_LINE - len(name) - 2 if position == 0 else MAX_ENCODED_WORD
        parts = mailbox_tokens(email, display_name, room)
        separators.extend([", " if position else " "] + [" "] * (len(parts) - 1))
        tokens.extend(parts)
    return fold(name, tokens, separators)


def as_bytes(lines: Sequence[str]) -> bytes:
    """The lines as a header block's bytes, each ended with CRLF."""
    return "".join(f"{line}\r\n" for line in lines).encode("ascii")


def raw_value(name: str, lines: Sequence[str]) -> str:
    """The lines as `EmailMessage.set_raw` takes a value: without `Name: `, LF between lines
    (the generator writes them out as they are, with the policy's line ending)."""
    return "\n".join(lines)[len(name) + 2 :]
