"""The check that goes with every speed-up of the matcher: the same verdicts before and after.

Exports, for this checkout, every verdict the matcher (rules plus the learned scorer) reaches:
- on the shipped labelled sets (train.jsonl and dev.jsonl), item by item: state, confidence,
  type, strands, evidence and commencements;
- on the bundled sample feeds, stored and classified the way `actwatch poll` does it (parsed,
  stored into a fresh SQLite database, `classify_pending`), as stored: `item_matches`,
  `item_strands` and `commencements` by canonical link;
- the figures of `actwatch evaluate --json` (the shipped dev set).
With `--against REF` (a commit, branch or tag) the same export is made from REF's source, in a
process of its own, and the two are compared: the script prints what differs and exits 1 if
anything does.

    python benchmarks/verdicts.py --against main
    python benchmarks/verdicts.py --export verdicts.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SAMPLE_SUFFIXES = {".atom": "application/atom+xml", ".rss": "application/rss+xml"}
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _config_data(folder: Path) -> dict[str, Any]:
    import yaml

    data: dict[str, Any] = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    data["database"] = {"url": f"sqlite:///{folder / 'verdicts.db'}"}
    data["matching"] = {**data["matching"], "fetch_instruments": False}
    return data


def labelled_verdicts(config: Any) -> list[dict[str, Any]]:
    from importlib import resources

    from actwatch.matching.classify import classify_many
    from actwatch.matching.evaluate import item_from_labelled
    from actwatch.matching.store import load_matcher

    matcher = load_matcher(None, config)
    found = []
    folder = resources.files("actwatch.matching") / "data"
    for name in ("train.jsonl", "dev.jsonl"):
        records = [
            json.loads(line)
            for line in (folder / name).read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        results = classify_many(matcher, [item_from_labelled(record) for record in records])
        for record, result in zip(records, results, strict=True):
            found.append(
                {
                    "set": name,
                    "id": record.get("id"),
                    "state": result.state,
                    "confidence": result.confidence,
                    "event_type": result.event_type,
                    "strands": list(result.strands),
                    "evidence": result.evidence_dicts(),
                    "commencements": [
                        [entry.section, str(entry.in_force_on), entry.strand]
                        for entry in result.commencements
                    ],
                }
            )
    return found


def sample_verdicts(data: dict[str, Any], folder: Path) -> list[list[Any]]:
    from importlib import resources

    from sqlalchemy import text

    from actwatch.config import parse_config
    from actwatch.db import open_database
    from actwatch.feeds.parse import parse_feed
    from actwatch.feeds.store import load_feed_rows, store_entries, sync_feed_rows
    from actwatch.matching.store import classify_pending

    samples = resources.files("actwatch.demo") / "samples"
    files = sorted(
        (entry for entry in samples.iterdir() if Path(entry.name).suffix in SAMPLE_SUFFIXES),
        key=lambda entry: entry.name,
    )
    data = {
        **data,
        "feeds": [
            {"name": Path(entry.name).stem, "url": f"https://samples.example.org/{entry.name}"}
            for entry in files
        ],
    }
    config = parse_config(data, folder / "config.yaml")
    engine = open_database(config)
    with engine.begin() as connection:
        sync_feed_rows(connection, config, now=NOW)
        rows = load_feed_rows(connection)
    for entry in files:
        name = Path(entry.name).stem
        parsed = parse_feed(
            entry.read_bytes(),
            f"https://samples.example.org/{entry.name}",
            SAMPLE_SUFFIXES[Path(entry.name).suffix],
            NOW,
        )
        with engine.begin() as connection:
            store_entries(connection, rows[name].id, parsed.entries, NOW, feed=rows[name])
    classify_pending(engine, config)
    with engine.connect() as connection:
        stored = connection.execute(
            text(
                "SELECT i.canonical_link, m.state, m.relevant, m.event_type, m.confidence,"
                " m.evidence, m.rules_hash,"
                " (SELECT group_concat(strand, ',') FROM"
                "  (SELECT strand FROM item_strands s WHERE s.item_id = i.id ORDER BY strand)),"
                " (SELECT group_concat(section || '@' || coalesce(in_force_on, ''), ',') FROM"
                "  (SELECT section, in_force_on FROM commencements c WHERE c.item_id = i.id"
                "   ORDER BY section, in_force_on))"
                " FROM items i JOIN item_matches m ON m.item_id = i.id ORDER BY i.canonical_link"
            )
        ).all()
    engine.dispose()
    return [[*row[:5], json.loads(row[5]), *row[6:]] for row in stored]


def evaluate_figures(folder: Path, data: dict[str, Any], env: dict[str, str]) -> Any:
    import yaml

    config = folder / "evaluate.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    from importlib import resources

    dev = resources.files("actwatch.matching") / "data" / "dev.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "actwatch", "--config", str(config), "evaluate", str(dev), "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"actwatch evaluate failed:\n{done.stderr}")
    return json.loads(done.stdout)


def export() -> dict[str, Any]:
    import actwatch
    from actwatch.config import parse_config

    with tempfile.TemporaryDirectory(prefix="actwatch-verdicts-") as temp:
        folder = Path(temp)
        data = _config_data(folder)
        config = parse_config(data, folder / "config.yaml")
        return {
            "source": str(Path(actwatch.__file__).parent),
            "labelled": labelled_verdicts(config),
            "samples": sample_verdicts(data, folder),
            "evaluate": evaluate_figures(folder, data, dict(os.environ)),
        }


def export_from(ref: str, folder: Path) -> dict[str, Any]:
    """The export made by REF's source (this script, REF's package), in a process of its own."""
    archive = folder / "source.tar"
    subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", "-o", str(archive), ref, "src"],
        check=True,
    )
    with tarfile.open(archive) as tar:
        tar.extractall(folder / "ref", filter="data")
    out = folder / "ref.json"
    env = {**os.environ, "PYTHONPATH": str(folder / "ref" / "src")}
    subprocess.run(
        [sys.executable, __file__, "--export", str(out)], check=True, env=env, cwd=folder
    )
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result


def compare(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    differences = []
    for part in ("labelled", "samples", "evaluate"):
        old, new = before[part], after[part]
        if old == new:
            continue
        if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
            changed = [index for index, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
            differences.append(f"{part}: {len(changed)} of {len(old)} differ, first: {changed[:5]}")
            for index in changed[:3]:
                differences.append(f"  before: {json.dumps(old[index])[:300]}")
                differences.append(f"  after:  {json.dumps(new[index])[:300]}")
        else:
            differences.append(f"{part}: differs")
    return differences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", metavar="REF", help="Compare with this commit's verdicts.")
    parser.add_argument("--export", type=Path, help="Write this checkout's verdicts here.")
    args = parser.parse_args()
    if args.export:
        args.export.write_text(json.dumps(export(), default=str), encoding="utf-8")
        return
    if not args.against:
        parser.error("give --against REF or --export FILE")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="actwatch-verdicts-") as temp:
        before = export_from(args.against, Path(temp))
    # Through JSON as the other side was, so both are compared as the same plain values.
    after = json.loads(json.dumps(export(), default=str))
    differences = compare(before, after)
    print(f"{args.against} ({before['source']}) against this checkout ({after['source']}):")
    print(
        f"  {len(after['labelled'])} labelled items, {len(after['samples'])} stored sample"
        f" items, the evaluate figures; {time.perf_counter() - started:.1f} s"
    )
    if differences:
        print("\n".join(differences))
        raise SystemExit(1)
    print("  every verdict identical, evidence and stored rows included")


if __name__ == "__main__":
    main()
