"""CSV imports: every rejected row reported with its line and reason, valid rows imported,
idempotent, and nobody who left is ever added back."""

from __future__ import annotations

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


def test_the_example_file_with_problems(sqlite_engine: Engine, config: Config) -> None:
    report = import_file(sqlite_engine, config, REPO / "subscribers" / "problems-example.csv")
    assert report.added == 2
    reasons = {r.line: r.reason for r in report.rejected}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 11, 12]
    assert reasons[3] == "duplicate of line 2 (imported once)"
    assert "exactly one @" in reasons[4]
    assert "after the @-sign is not valid" in reasons[5]
    assert "unknown strand 'adoption-reform'" in reasons[6]
    assert reasons[7] == "no email address"
    assert "4 columns" in reasons[12]
    ruth = find_subscriber(sqlite_engine, "RUTH.ADEYEMI@southmoor.example.gov.uk")
    assert ruth is not None and ruth.email == "ruth.adeyemi@southmoor.example.gov.uk"
    assert ruth.strands == ("care-leavers",) and ruth.status == "confirmed"
    # Strands by name as well as by slug.
    team = find_subscriber(sqlite_engine, "team@southmoor.example.gov.uk")
    assert team is not None and team.strands == ("care-leavers", "corporate-parenting")
    assert team.name == "Children's services; ops team"


def test_sector_contacts_import_with_consent_evidence(
    sqlite_engine: Engine, config: Config
) -> None:
    path = REPO / "subscribers" / "sector-contacts.csv"
    report = import_file(sqlite_engine, config, path, now=NOW)
    assert (report.added, report.rejected) == (18, [])
    everyone = list_subscribers(sqlite_engine)
    assert {s.consent_source for s in everyone} == {
        "import:sector-contacts.csv at 2017-12-01T09:00:00Z"
    }
    assert all(s.confirmed_at == NOW for s in everyone)
    assert len({s.choice for s in everyone}) >= 5  # a realistic spread of choices
    again = import_file(sqlite_engine, config, path)
    assert (again.added, again.unchanged, again.rejected) == (0, 18, [])
    assert len(list_subscribers(sqlite_engine)) == 18


def test_bom_crlf_quotes_and_bad_bytes(
    sqlite_engine: Engine, config: Config, tmp_path: Path
) -> None:
    data = (
        b"\xef\xbb\xbfEmail , NAME,strands\r\n"
        b'a@example.org,"Smith, Ann",care-leavers\r\n'
        b"\r\n"
        b'b@example.org,"Two\r\nlines",\r\n'
        b"c@example.org,Caf\xe9 Latin-1,\r\n"
        b"d@example.org,,  Care-Leavers ; safeguarding-partnerships  \r\n"
    )
    report = import_file(sqlite_engine, config, write(tmp_path, data))
    assert report.added == 3
    (bad,) = report.rejected
    assert bad.line == 6 and "not UTF-8" in bad.reason
    a = find_subscriber(sqlite_engine, "a@example.org")
    b = find_subscriber(sqlite_engine, "b@example.org")
    d = find_subscriber(sqlite_engine, "d@example.org")
    assert a is not None and a.name == "Smith, Ann"
    assert b is not None and b.name == "Two lines" and b.all_strands
    assert d is not None and d.strands == ("care-leavers", "safeguarding-partnerships")


def test_whole_file_problems(sqlite_engine: Engine, config: Config, tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="email, name, strands"):
        import_file(sqlite_engine, config, write(tmp_path, "address,name\nx@example.org,X\n"))
    with pytest.raises(ImportFileError, match="cannot read"):
        import_file(sqlite_engine, config, tmp_path / "missing.csv")
    empty = import_file(sqlite_engine, config, write(tmp_path, "email\n"))
    assert (empty.rows, empty.added) == (0, 0)


def test_people_who_left_are_never_added_back(
    sqlite_engine: Engine, config: Config, tmp_path: Path
) -> None:
    first = write(tmp_path, "email\nleft@example.org\nbounced@example.org\ngone@example.org\n")
    import_file(sqlite_engine, config, first)
    left = find_subscriber(sqlite_engine, "left@example.org")
    gone = find_subscriber(sqlite_engine, "gone@example.org")
    assert left is not None and gone is not None
    unsubscribe(sqlite_engine, left.id)
    with sqlite_engine.begin() as connection:
        connection.execute(
            update(subscribers)
            .where(subscribers.c.email == "bounced@example.org")
            .values(status="bounced", bounced_at=NOW)
        )
    erase(sqlite_engine, gone.id)
    report = import_file(
        sqlite_engine,
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
    assert find_subscriber(sqlite_engine, "left@example.org").status == "unsubscribed"  # type: ignore[union-attr]


def test_export_reimports_and_erasure_leaves_nothing_readable(
    sqlite_engine: Engine, config: Config, tmp_path: Path
) -> None:
    import_file(sqlite_engine, config, REPO / "subscribers" / "sector-contacts.csv")
    exported = export_csv(sqlite_engine)
    assert exported.count("\r\n") == 19
    again = import_file(sqlite_engine, config, write(tmp_path, exported, "export.csv"))
    assert again.unchanged == 18 and again.rejected == []

    person = find_subscriber(sqlite_engine, "amara.okafor@northshire-council.example.gov.uk")
    assert person is not None
    data = person_data(sqlite_engine, person)
    assert data["name"] == "Amara Okafor" and data["strands"] == [
        "care-leavers",
        "corporate-parenting",
    ]
    erase(sqlite_engine, person.id)
    erased = find_subscriber(sqlite_engine, "amara.okafor@northshire-council.example.gov.uk")
    assert erased is not None and erased.status == "erased"
    assert (
        erased.name is None and erased.email.startswith("erased:") and "amara" not in erased.email
    )
    assert "amara" not in export_csv(sqlite_engine, status=None)


def test_cli_import_reports_rejections(tmp_path: Path, write_config: object) -> None:
    from actwatch.cli import main

    config_path = write_config()  # type: ignore[operator]
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
    assert result.exit_code == 0, result.output
    assert "2 added" in result.output and "8 rejected" in result.output
    assert (
        "line 6: g.shaw@southmoor.example.gov.uk: unknown strand 'adoption-reform'" in result.output
    )
    listed = CliRunner().invoke(
        main, ["--config", str(config_path), "subscribers", "list", "--json"]
    )
    assert listed.output.count("\n") == 2
