"""Import subscribers from a CSV file (columns `email`, `name`, `strands`).

`strands` holds semicolon-separated strand slugs (or names); empty means every strand. Every
row is checked on its own: the valid rows import, each rejected row is reported with its line
number and the reason. Imported addresses count as confirmed, with the file's name and the time
of the import kept as the evidence of consent. Importing the same file again changes nothing,
and nobody who unsubscribed, bounced or asked to be erased is ever added back.

The file is read as UTF-8 (a byte-order mark is fine) with any line endings; a row with bytes
that are not UTF-8 is rejected, not guessed at.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, insert, select, update

from actwatch.config import Config
from actwatch.db.schema import subscriber_strands, subscribers
from actwatch.subscribers.addresses import AddressError, email_digest, normalise_email
from actwatch.subscribers.store import (
    CONFIRMED,
    PENDING,
    SubscriberError,
    choice_from,
    clean_name,
    resolve_strands,
    utcnow,
)
from actwatch.subscribers.tokens import new_nonce

MAX_FILE_BYTES = 200_000_000
_CHUNK = 1000


class ImportFileError(Exception):
    """The file as a whole cannot be imported (missing, unreadable, no email column)."""


@dataclass(frozen=True)
class Rejected:
    line: int
    email: str
    reason: str


@dataclass
class ImportReport:
    file: str
    evidence: str
    rows: int = 0
    added: int = 0
    confirmed: int = 0  # pending web sign-ups the import confirmed
    unchanged: int = 0  # already subscribed: their own choices are kept
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return self.added + self.confirmed


@dataclass(frozen=True)
class _Row:
    line: int
    email: str
    name: str | None
    strands: tuple[str, ...] | None


def parse_file(config: Config, path: Path) -> tuple[list[_Row], list[Rejected], int]:
    """Valid rows (one per address, first occurrence wins), rejected rows, rows read."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImportFileError(f"{path} is {size:,} bytes: split it into smaller files")
        raw = path.read_bytes()
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    # utf-8-sig drops a byte-order mark; undecodable bytes are kept aside to reject their rows.
    text = raw.decode("utf-8-sig", errors="surrogateescape")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, [])
    columns = {name.strip().lower(): index for index, name in enumerate(header)}
    if "email" not in columns:
        found = ", ".join(repr(h) for h in header) or "nothing"
        raise ImportFileError(
            f"the first line must name the columns email, name, strands (found {found})"
        )
    email_at, name_at, strands_at = (columns.get(c) for c in ("email", "name", "strands"))

    def cell(values: list[str], index: int | None) -> str:
        return values[index].strip() if index is not None and index < len(values) else ""

    valid: list[_Row] = []
    rejected: list[Rejected] = []
    first_seen: dict[str, int] = {}
    count = 0
    previous_end = reader.line_num
    for values in reader:
        start, previous_end = previous_end + 1, reader.line_num
        if not any(v.strip() for v in values):
            continue  # a blank line
        count += 1
        raw_email = cell(values, email_at)
        shown = raw_email.encode("utf-8", "replace").decode("utf-8")[:320]
        if any(_undecodable(v) for v in values):
            rejected.append(Rejected(start, shown, "not UTF-8 text (save the file as UTF-8)"))
            continue
        if len(values) > len(header):
            rejected.append(
                Rejected(start, shown, f"{len(values)} columns, the header names {len(header)}")
            )
            continue
        try:
            email = normalise_email(raw_email)
        except AddressError as exc:
            rejected.append(Rejected(start, shown, str(exc)))
            continue
        if email in first_seen:
            rejected.append(
                Rejected(start, shown, f"duplicate of line {first_seen[email]} (imported once)")
            )
            continue
        first_seen[email] = start
        try:
            strands = resolve_strands(config, cell(values, strands_at).split(";"))
        except SubscriberError as exc:
            rejected.append(Rejected(start, shown, str(exc)))
            continue
        name = clean_name(cell(values, name_at))
        valid.append(_Row(start, email, name, choice_from(config, strands)))
    return valid, rejected, count


def _undecodable(value: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in value)


def import_file(
    engine: Engine, config: Config, path: Path, *, now: datetime | None = None
) -> ImportReport:
    moment = utcnow(now)
    evidence = f"import:{path.name} at {moment:%Y-%m-%dT%H:%M:%SZ}"
    report = ImportReport(file=str(path), evidence=evidence)
    valid, rejected, report.rows = parse_file(config, path)
    report.rejected.extend(rejected)
    with engine.begin() as connection:
        existing: dict[str, tuple[int, str, datetime | None]] = {}
        emails = [row.email for row in valid]
        keys = emails + [email_digest(e) for e in emails]
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            for found in connection.execute(
                select(
                    subscribers.c.id,
                    subscribers.c.email,
                    subscribers.c.status,
                    subscribers.c.unsubscribed_at,
                    subscribers.c.bounced_at,
                ).where(subscribers.c.email.in_(chunk))
            ):
                when = found.unsubscribed_at or found.bounced_at
                existing[found.email] = (found.id, found.status, when)
        new_rows = []
        to_confirm = []
        for row in valid:
            known = existing.get(row.email) or existing.get(email_digest(row.email))
            if known is None:
                new_rows.append(row)
                continue
            subscriber_id, status, when = known
            if status == CONFIRMED:
                report.unchanged += 1
            elif status == PENDING:
                to_confirm.append(subscriber_id)
            else:
                report.rejected.append(Rejected(row.line, row.email, _suppressed(status, when)))
        for start in range(0, len(to_confirm), _CHUNK):
            connection.execute(
                update(subscribers)
                .where(
                    subscribers.c.id.in_(to_confirm[start : start + _CHUNK]),
                    subscribers.c.status == PENDING,
                )
                .values(status=CONFIRMED, confirmed_at=moment, consent_source=evidence)
            )
        report.confirmed = len(to_confirm)
        for start in range(0, len(new_rows), _CHUNK):
            chunk_rows = new_rows[start : start + _CHUNK]
            connection.execute(
                insert(subscribers),
                [
                    {
                        "email": row.email,
                        "name": row.name,
                        "status": CONFIRMED,
                        "all_strands": row.strands is None,
                        "consent_source": evidence,
                        "consent_at": moment,
                        "confirmed_at": moment,
                        "token_nonce": new_nonce(),
                        "created_at": moment,
                    }
                    for row in chunk_rows
                ],
            )
            chosen = {row.email: row.strands for row in chunk_rows if row.strands is not None}
            if chosen:
                ids = connection.execute(
                    select(subscribers.c.email, subscribers.c.id).where(
                        subscribers.c.email.in_(list(chosen))
                    )
                ).all()
                connection.execute(
                    insert(subscriber_strands),
                    [
                        {"subscriber_id": subscriber_id, "strand": slug}
                        for email, subscriber_id in ids
                        for slug in chosen[email] or ()
                    ],
                )
        report.added = len(new_rows)
    report.rejected.sort(key=lambda r: r.line)
    return report


def _suppressed(status: str, when: datetime | None) -> str:
    day = f" on {when:%d %b %Y}" if when else ""
    if status == "unsubscribed":
        return f"unsubscribed{day}: an import never subscribes them again"
    if status == "bounced":
        return f"the address bounced{day}: an import never subscribes it again"
    return "erased at the person's request: an import never subscribes them again"
