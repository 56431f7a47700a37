"""Stored verdicts: classify_pending after a poll, reclassify, instruments fetched once."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, insert, select, update

from actwatch.cli import main
from actwatch.config import Config
from actwatch.db import make_engine, upgrade
from actwatch.db.schema import commencements, instrument_texts, item_matches, item_strands, items
from actwatch.matching.instruments import InstrumentFetcher, instrument_url
from actwatch.matching.store import classify_pending, reclassify
from tests.conftest import DATA, inserted_id

NOW = datetime(2018, 4, 2, 9, 0, tzinfo=UTC)


def add_item(engine: Engine, title: str, summary: str = "", **values: Any) -> int:
    row = {
        "canonical_link": values.pop(
            "link", f"https://www.gov.uk/government/news/{hashlib.md5(title.encode()).hexdigest()}"
        ),
        "title": title,
        "summary": summary,
        "published_at": NOW,
        "first_seen_at": NOW,
        "content_hash": hashlib.sha256(f"{title}{summary}".encode()).hexdigest(),
        "source_meta": values.pop("source_meta", {}),
        **values,
    }
    with engine.begin() as connection:
        return int(inserted_id(connection.execute(insert(items).values(**row))))


def verdict(engine: Engine, item_id: int) -> dict[str, Any]:
    with engine.connect() as connection:
        match = connection.execute(
            select(item_matches).where(item_matches.c.item_id == item_id)
        ).one()
        strands = (
            connection.execute(
                select(item_strands.c.strand)
                .where(item_strands.c.item_id == item_id)
                .order_by(item_strands.c.strand)
            )
            .scalars()
            .all()
        )
        rows = connection.execute(
            select(commencements)
            .where(commencements.c.item_id == item_id)
            .order_by(commencements.c.id)
        ).all()
    return {"match": match, "strands": list(strands), "commencements": rows}


@pytest.fixture
def offline(config: Config) -> Config:
    return config.model_copy(
        update={"matching": config.matching.model_copy(update={"fetch_instruments": False})}
    )


def test_classify_pending_stores_verdicts_once(engine: Engine, offline: Config) -> None:
    relevant = add_item(
        engine,
        "Corporate parenting principles come into force",
        "Councils must publish a local offer for care leavers.",
    )
    rejected = add_item(engine, "Teachers' pay award", "A 3.5% rise for teachers.")
    report = classify_pending(engine, offline)
    assert (report.classified, report.relevant, report.rejected) == (2, 1, 1)

    first = verdict(engine, relevant)
    assert first["match"].state == "relevant"
    assert first["match"].event_type == "commencement"
    assert first["strands"] == ["care-leavers", "corporate-parenting"]
    assert any(entry["cue"] == "corporate parent*" for entry in first["match"].evidence)
    assert verdict(engine, rejected)["match"].state == "rejected"

    again = classify_pending(engine, offline)
    assert again.classified == 0
    assert verdict(engine, relevant)["match"].classified_at == first["match"].classified_at


def test_changed_items_and_changed_rules_are_redone(engine: Engine, offline: Config) -> None:
    item_id = add_item(engine, "Council news", "Nothing to see.")
    classify_pending(engine, offline)
    assert verdict(engine, item_id)["match"].state == "rejected"

    later = datetime.now(UTC) + timedelta(seconds=1)
    with engine.begin() as connection:
        connection.execute(
            update(items)
            .where(items.c.id == item_id)
            .values(summary="Partners in Practice councils named.", last_changed_at=later)
        )
    assert classify_pending(engine, offline).classified == 1
    assert verdict(engine, item_id)["strands"] == ["sector-led-improvement"]

    strands = dict(offline.strands)
    strands["corporate-parenting"] = strands["corporate-parenting"].model_copy(
        update={"cues": ["corporate parent*", "councils named"]}
    )
    edited = offline.model_copy(update={"strands": strands})
    assert classify_pending(engine, edited).classified == 1
    assert verdict(engine, item_id)["strands"] == ["corporate-parenting", "sector-led-improvement"]


def test_reclassify_keeps_the_editors_decision(engine: Engine, offline: Config) -> None:
    item_id = add_item(engine, "Care leavers: new support", "")
    classify_pending(engine, offline)
    with engine.begin() as connection:
        connection.execute(
            update(item_matches)
            .where(item_matches.c.item_id == item_id)
            .values(editor_state="rejected")
        )
    report = reclassify(engine, offline)
    assert report.classified == 1
    after = verdict(engine, item_id)["match"]
    assert (after.state, after.editor_state) == ("relevant", "rejected")
    assert reclassify(engine, offline).classified == 1  # every item, every time, same result
    assert verdict(engine, item_id)["strands"] == ["care-leavers"]


def test_commencement_dates_from_the_summary(engine: Engine, offline: Config) -> None:
    item_id = add_item(
        engine,
        "The Children and Social Work Act 2017 (Commencement No. 1) Regulations 2017",
        "These Regulations bring into force on 31st October 2017 sections 8, 9, 33 and 42 of"
        " the Act.",
        link="https://www.legislation.gov.uk/uksi/2017/918/made",
        source_meta={
            "legislation": {"type": "UnitedKingdomStatutoryInstrument", "year": 2017, "number": 918}
        },
    )
    classify_pending(engine, offline)
    stored = verdict(engine, item_id)
    assert stored["match"].event_type == "commencement"
    assert stored["strands"] == ["social-work-england"]
    assert [
        (row.section, row.strand, row.in_force_on, row.source) for row in stored["commencements"]
    ] == [
        ("s.8", None, date(2017, 10, 31), "summary"),
        ("s.9", None, date(2017, 10, 31), "summary"),
        ("s.33", None, date(2017, 10, 31), "summary"),
        ("s.42", "social-work-england", date(2017, 10, 31), "summary"),
    ]
    reclassify(engine, offline)
    assert len(verdict(engine, item_id)["commencements"]) == 4


class _Instruments(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        files = {
            "/uksi/2018/346/made/data.xml": DATA / "instruments" / "uksi-2018-346-made.xml",
            "/uksi/2017/918/made/data.xml": DATA / "instruments" / "uksi-2017-918-made.xml",
        }
        path = files.get(self.path)
        if path is None:
            self.send_response(404)
            self.end_headers()
            return
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def legislation_server() -> Iterator[str]:
    _Instruments.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Instruments)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_instrument_text_is_fetched_once_and_cached(
    engine: Engine, config: Config, legislation_server: str
) -> None:
    item_id = add_item(
        engine,
        "The Children and Social Work Act 2017 (Commencement No. 3) Regulations 2018",
        "",
        link=f"{legislation_server}/uksi/2018/346/made",
        source_meta={
            "legislation": {
                "type": "UnitedKingdomStatutoryInstrument",
                "alternative_number": {"category": "C", "value": "28"},
            }
        },
    )
    missing = add_item(
        engine,
        "The Children and Social Work Act 2017 (Commencement No. 9) Regulations 2020",
        "",
        link=f"{legislation_server}/uksi/2020/1/made",
    )
    fetcher = InstrumentFetcher.from_config(config, allowed_hosts=frozenset({"127.0.0.1"}), delay=0)
    try:
        report = classify_pending(engine, config, fetcher=fetcher)
        assert fetcher.client.headers["User-Agent"].startswith("actwatch/")
    finally:
        fetcher.close()
    assert report.instruments_fetched == 2
    stored = verdict(engine, item_id)
    assert stored["strands"] == [
        "care-leavers",
        "corporate-parenting",
        "relationships-education",
        "safeguarding-partnerships",
        "social-work-england",
    ]
    by_section = {row.section: row for row in stored["commencements"]}
    assert by_section["s.16"].in_force_on == date(2018, 3, 19)
    assert "making regulations" in by_section["s.16"].purpose
    assert by_section["s.35"].in_force_on == date(2018, 4, 1)
    assert {row.source for row in stored["commencements"]} == {"instrument"}
    assert verdict(engine, missing)["commencements"] == []

    # Reclassify reads the cache: no new request, not even for the 404 (remembered).
    cached = InstrumentFetcher.from_config(config, allowed_hosts=frozenset({"127.0.0.1"}), delay=0)
    try:
        reclassify(engine, config, fetcher=cached)
    finally:
        cached.close()
    assert sorted(_Instruments.hits) == [
        "/uksi/2018/346/made/data.xml",
        "/uksi/2020/1/made/data.xml",
    ]
    with engine.connect() as connection:
        statuses = sorted(connection.execute(select(instrument_texts.c.status)).scalars())
    assert statuses == [200, 404]
    assert len(verdict(engine, item_id)["commencements"]) == len(stored["commencements"])


def test_instrument_urls() -> None:
    assert instrument_url("https://www.legislation.gov.uk/uksi/2018/346/made") == (
        "https://www.legislation.gov.uk/uksi/2018/346/made/data.xml"
    )
    assert instrument_url("http://www.legislation.gov.uk/id/uksi/2017/918") == (
        "https://www.legislation.gov.uk/uksi/2017/918/made/data.xml"
    )
    assert instrument_url("https://www.gov.uk/uksi/2018/346") is None
    assert instrument_url("https://www.legislation.gov.uk/ukpga/2017/16/contents") is None


def test_items_json_shows_the_evidence(
    write_config: Any, repo_config_data: dict[str, Any], tmp_path: Path
) -> None:
    config_file = write_config(
        matching={**repo_config_data["matching"], "fetch_instruments": False}
    )
    runner = CliRunner()
    assert runner.invoke(main, ["--config", str(config_file), "init"]).exit_code == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'actwatch.db'}")
    upgrade(engine)
    add_item(
        engine,
        "Working together to safeguard children 2018",
        "Safeguarding partners replace LSCBs.",
        type_hint="Statutory guidance",
    )
    engine.dispose()
    result = runner.invoke(main, ["--config", str(config_file), "reclassify", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["relevant"] == 1
    listing = runner.invoke(main, ["--config", str(config_file), "items", "--json"])
    assert listing.exit_code == 0, listing.output
    (item,) = json.loads(listing.stdout)
    assert (item["state"], item["relevant"], item["event_type"]) == ("relevant", True, "guidance")
    assert item["strands"] == ["safeguarding-partnerships"]
    assert {"cue": "LSCBs", "kind": "strand", "field": "summary", "text": "LSCBs"}.items() <= next(
        entry for entry in item["evidence"] if entry["cue"] == "LSCBs"
    ).items()


def test_the_trained_scorer_is_cached_in_the_database(
    engine: Engine, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    from actwatch.db.schema import matcher_models
    from actwatch.matching import store

    first = store.load_matcher(engine, config)
    assert first.model is not None
    store._MODELS.clear()

    def no_training(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("trained again instead of reading the cache")

    monkeypatch.setattr(store, "train", no_training)
    again = store.load_matcher(engine, config)
    assert again.fingerprint == first.fingerprint
    with engine.connect() as connection:
        assert connection.execute(select(matcher_models.c.data_key)).scalars().all() == [
            first.model.fingerprint
        ]


def test_verdicts_are_written_per_batch_and_twice_changes_nothing(
    engine: Engine, config: Config
) -> None:
    ids = [add_item(engine, f"Care leavers news {n}", "Personal advisers to 25.") for n in range(7)]
    first = classify_pending(engine, config)
    assert first.classified == 7
    with engine.connect() as connection:
        before = connection.execute(
            select(
                item_matches.c.item_id, item_matches.c.state, item_matches.c.event_type
            ).order_by(item_matches.c.item_id)
        ).all()
        strands = connection.execute(
            select(item_strands.c.item_id, item_strands.c.strand).order_by(item_strands.c.item_id)
        ).all()
    assert [row.item_id for row in before] == ids
    assert {strand for _, strand in strands} == {"care-leavers"}
    assert classify_pending(engine, config).classified == 0
    reclassify(engine, config)
    with engine.connect() as connection:
        assert (
            connection.execute(
                select(
                    item_matches.c.item_id, item_matches.c.state, item_matches.c.event_type
                ).order_by(item_matches.c.item_id)
            ).all()
            == before
        )
