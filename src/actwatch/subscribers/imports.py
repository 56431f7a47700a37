"""Import subscribers from a CSV file (columns `email`, `name`, `strands`).

`strands` holds semicolon-separated strand slugs (or names); empty means every strand. Every
row is checked on its own: the valid rows import, each rejected row is reported with its line
number and the reason. Imported addresses count as confirmed, with the file's name and the time
of the import kept as the evidence of consent. Importing the same file again changes nothing,
and nobody who unsubscribed, bounced or asked to be erased is ever added back.

The file is read as UTF-8 (a byte-order mark is fine) with any line endings; a row with bytes
that are not UTF-8 is rejected, not guessed at. A damaged row never takes its neighbours with
it: a quote left open, a field far longer than any address or name, stray text after a closing
quote are each reported on the row's own line, and reading carries on with the next line. A
quoted name may run over a few lines (a spreadsheet cell with a line break); nothing else may.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from actwatch.config import Config
from actwatch.core.emails import EmailError, normalise_email
from actwatch.subscribers.store import (
    ImportRow,
    SubscriberError,
    choice_from,
    clean_name,
    import_rows,
    resolve_strands,
    utcnow,
)

MAX_FILE_BYTES = 200_000_000
# No address, name or list of strands comes near this; a field longer than it is damage (or a
# whole file swallowed by a stray quote), reported without handing it to the csv module, whose
# own limit (128 KB) would end the import with a traceback.
MAX_FIELD = 1_000
MAX_LINE = 4 * MAX_FIELD
# A quoted name with line breaks in it may span this many lines; a longer record is a quote
# that was never closed.
MAX_RECORD_LINES = 3
# What a spreadsheet would run as a formula; `export_csv` puts a ' before it, and an import of
# that export takes it off again.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_UNCLOSED = "malformed quoting: a quote opened on this line is not closed on it"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


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

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "evidence": self.evidence,
            "rows": self.rows,
            "added": self.added,
            "confirmed": self.confirmed,
            "unchanged": self.unchanged,
            "rejected": [
                {"line": r.line, "email": r.email, "reason": r.reason} for r in self.rejected
            ],
        }


@dataclass(frozen=True)
class _Record:
    line: int
    values: list[str] | None  # None: the record could not be read (see `problem`)
    lines: int = 1
    problem: str = ""
    raw: str = ""


def unformula(value: str) -> str:
    """A cell as `export_csv` wrote it, back as it was: the ' it put before a formula goes."""
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_START:
        return value[1:]
    return value


def _records(lines: list[str], first: int) -> Iterator[_Record]:
    """The CSV records from physical line `first` on (0-based), each with its 1-based line.

    Each record is parsed on its own lines, so a damaged one is reported and reading resumes
    at the next line instead of the damage spreading."""
    index = first
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            index += 1
            continue
        record = _record_at(lines, index)
        yield record
        index += record.lines


def _record_at(lines: list[str], index: int) -> _Record:
    number = index + 1
    raw = lines[index]
    for span in range(1, MAX_RECORD_LINES + 1):
        chunk = lines[index : index + span]
        if len(chunk) < span:
            break
        if len(chunk[-1]) > MAX_LINE:
            return _Record(
                number,
                None,
                problem=f"the row is over {MAX_LINE:,} characters long (a field can have at "
                f"most {MAX_FIELD:,})",
                raw=raw,
            )
        reader = csv.reader([text + "\n" for text in chunk], strict=True)
        try:
            values = next(reader)
            rest = next(reader, None)
        except csv.Error as exc:
            if "unexpected end of data" in str(exc) or "new-line character" in str(exc):
                continue  # a quoted field with a line break in it: try one more line
            if span > 1:
                break  # the quote "closed" on a later row, at that row's own quote
            return _Record(number, None, problem=f"malformed quoting ({exc})", raw=raw)
        if rest is not None or reader.line_num != span:
            return _Record(number, None, problem="malformed quoting", raw=raw)
        return _Record(number, values, lines=span, raw=raw)
    return _Record(number, None, problem=_UNCLOSED, raw=raw)


def parse_file(config: Config, path: Path) -> tuple[list[ImportRow], list[Rejected], int]:
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
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    header_at = next((i for i, line in enumerate(lines) if line.strip()), None)
    header: list[str] = []
    if header_at is not None:
        first = _record_at(lines, header_at)
        header = first.values if first.values is not None and first.lines == 1 else []
    columns = {unformula(name.strip()).lower(): index for index, name in enumerate(header)}
    if "email" not in columns:
        found = ", ".join(repr(h[:40]) for h in header) or "nothing"
        raise ImportFileError(
            f"the first line must name the columns email, name, strands (found {found})"
        )
    assert header_at is not None
    email_at, name_at, strands_at = (columns.get(c) for c in ("email", "name", "strands"))

    def cell(values: list[str], index: int | None) -> str:
        if index is None or index >= len(values):
            return ""
        return unformula(values[index].strip())

    valid: list[ImportRow] = []
    rejected: list[Rejected] = []
    first_seen: dict[str, int] = {}
    count = 0
    for record in _records(lines, header_at + 1):
        count += 1
        start, values = record.line, record.values
        if values is None:
            rejected.append(Rejected(start, _shown(record.raw.split(",", 1)[0]), record.problem))
            continue
        if not any(v.strip() for v in values):
            count -= 1
            continue  # a row of empty cells
        raw_email = cell(values, email_at)
        shown = _shown(raw_email)
        if any(_undecodable(v) for v in values):
            rejected.append(Rejected(start, shown, "not UTF-8 text (save the file as UTF-8)"))
            continue
        if len(values) > len(header):
            rejected.append(
                Rejected(start, shown, f"{len(values)} columns, the header names {len(header)}")
            )
            continue
        too_long = [i for i, v in enumerate(values) if len(v) > MAX_FIELD]
        if too_long:
            rejected.append(
                Rejected(
                    start,
                    shown,
                    f"the {_column(header, too_long[0])} field is over {MAX_FIELD:,} characters",
                )
            )
            continue
        broken = [i for i, v in enumerate(values) if "\n" in v and i != name_at]
        if broken:
            rejected.append(
                Rejected(
                    start,
                    shown,
                    f"malformed quoting: the {_column(header, broken[0])} field runs over "
                    f"{record.lines} lines",
                )
            )
            continue
        try:
            email = normalise_email(raw_email)
        except EmailError as exc:
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
        valid.append(ImportRow(start, email, name, choice_from(config, strands)))
    return valid, rejected, count


def _shown(value: str) -> str:
    """A cell fit to print in a report: valid text, and short."""
    text = value.encode("utf-8", "replace").decode("utf-8").strip()
    return text if len(text) <= 80 else text[:79] + "…"


def _column(header: list[str], index: int) -> str:
    return repr(header[index].strip()) if index < len(header) else f"column {index + 1}"


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
    _land(engine, report, valid, moment)
    return report


def add_by_hand(
    engine: Engine,
    config: Config,
    *,
    email: str,
    name: str = "",
    strands: Iterable[str] = (),
    by: str,
    now: datetime | None = None,
) -> ImportReport:
    """One subscriber typed in by an editor: checked and added like a row of an import
    (confirmed, the editor named as the evidence of their consent, nobody who left added back).
    The report says what happened; a refusal is its one rejected row."""
    moment = utcnow(now)
    evidence = f"added by {clean_name(by) or 'an editor'} at {moment:%Y-%m-%dT%H:%M:%SZ}"
    report = ImportReport(file="", evidence=evidence, rows=1)
    try:
        address = normalise_email(email)
        row = ImportRow(
            1, address, clean_name(name), choice_from(config, resolve_strands(config, strands))
        )
    except (EmailError, SubscriberError) as exc:
        report.rejected.append(Rejected(1, _shown(email), str(exc)))
        return report
    _land(engine, report, [row], moment)
    return report


def _land(engine: Engine, report: ImportReport, valid: list[ImportRow], moment: datetime) -> None:
    """Store the valid rows and complete the report with what the database made of them."""
    outcome = import_rows(engine, valid, evidence=report.evidence, now=moment)
    report.added, report.confirmed, report.unchanged = (
        outcome.added,
        outcome.confirmed,
        outcome.unchanged,
    )
    for row, status, when in outcome.suppressed:
        report.rejected.append(Rejected(row.line, row.email, _suppressed(status, when)))
    report.rejected.sort(key=lambda r: r.line)


def _suppressed(status: str, when: datetime | None) -> str:
    day = f" on {when:%d %b %Y}" if when else ""
    if status == "unsubscribed":
        return f"unsubscribed{day}: an import never subscribes them again"
    if status == "bounced":
        return f"the address bounced{day}: an import never subscribes it again"
    return "erased at the person's request: an import never subscribes them again"
