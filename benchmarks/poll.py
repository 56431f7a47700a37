"""Benchmark one poll pass against feedparser's own speed, in one run.

Generates N realistic feeds (GOV.UK Atom, legislation.gov.uk Atom with ukm: metadata, WordPress
RSS with content:encoded; about 40 KB each, so 200 feeds are about 8 MB), serves them from a
separate process on 127.0.0.1 (ETag, Last-Modified, 304, gzip), then reports:

- floor: feedparser alone parsing every body in one process (a fresh one that never imports
  actwatch, with feedparser's default settings, as rss2email and lemon24/reader use it);
- cold: a full `poll_feeds` pass into an empty SQLite database (fetch, parse, store);
- warm: the same pass again, every feed answering 304;
- items stored.

Targets: cold <= 1.5 x (floor / cores); warm < 1 ms per feed.

    python benchmarks/poll.py [--feeds 200] [--seed 1]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

VOCABULARY = (
    "children social work act 2017 safeguarding partners local authority care leavers personal "
    "adviser corporate parenting principles virtual school head designated teacher regulator "
    "Social Work England relationships education health education consultation guidance "
    "statutory funding pilot early adopters regional adoption agency What Works Centre "
    "Partners in Practice innovation programme practice review panel child death review "
    "department education minister announced today councils families young people services "
    "evidence improvement standards commissioning voluntary sector trust review report "
    "published framework inspection Ofsted outcomes support schools teachers pupils"
)
WORDS = VOCABULARY.split()
TYPES = ("Press release", "News story", "Statutory guidance", "Open consultation", "Speech")


def sentence(rng: random.Random, length: int) -> str:
    words = [rng.choice(WORDS) for _ in range(length)]
    return " ".join(words).capitalize() + "."


def paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(sentence(rng, rng.randint(8, 20)) for _ in range(sentences))


def govuk_atom(rng: random.Random, index: int, base: datetime, target: int) -> str:
    entries = []
    size = 0
    n = 0
    while size < target:
        n += 1
        when = (base - timedelta(hours=7 * n)).isoformat()
        slug = f"dept-{index}-announcement-{n}"
        title = f"{rng.choice(TYPES)}: {sentence(rng, rng.randint(5, 10))[:-1]}"
        entry = f"""  <entry>
    <id>https://www.gov.uk/government/news/{slug}#{when}</id>
    <updated>{when}</updated>
    <link rel="alternate" type="text/html" href="https://www.gov.uk/government/news/{slug}"/>
    <title>{escape(title)}</title>
    <summary>{escape(paragraph(rng, 3))}</summary>
  </entry>
"""
        entries.append(entry)
        size += len(entry)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <id>https://www.gov.uk/government/organisations/dept-{index}</id>
  <link rel="self" type="application/atom+xml" href="https://www.gov.uk/government/organisations/dept-{index}.atom"/>
  <title>Department {index} - Activity on GOV.UK</title>
  <updated>{base.isoformat()}</updated>
{"".join(entries)}</feed>
"""


def legislation_atom(rng: random.Random, index: int, base: datetime, target: int) -> str:
    entries = []
    size = 0
    n = 0
    while size < target:
        n += 1
        year = 2016 + n % 4
        number = index * 1000 + n
        when = (base - timedelta(hours=5 * n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        title = f"The {sentence(rng, 6)[:-1]} (Commencement No. {n % 9 + 1}) Regulations {year}"
        entry = f"""  <entry>
    <id>http://www.legislation.gov.uk/id/uksi/{year}/{number}</id>
    <title>{escape(title)}</title>
    <link rel="self" href="http://www.legislation.gov.uk/uksi/{year}/{number}/contents/made"/>
    <link rel="alternate" type="application/xml" href="http://www.legislation.gov.uk/uksi/{year}/{number}/made/data.xml"/>
    <link rel="alternate" type="application/pdf" href="http://www.legislation.gov.uk/uksi/{year}/{number}/pdfs/uksi_{year}{number:04d}_en.pdf"/>
    <updated>{when}</updated>
    <published>{when}</published>
    <ukm:DocumentMainType Value="UnitedKingdomStatutoryInstrument"/>
    <ukm:Year Value="{year}"/>
    <ukm:Number Value="{number}"/>
    <ukm:AlternativeNumber Category="C" Value="{n}"/>
    <ukm:CreationDate Date="{year}-03-01"/>
    <summary>{escape(paragraph(rng, 2))}</summary>
  </entry>
"""
        entries.append(entry)
        size += len(entry)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:ukm="http://www.legislation.gov.uk/namespaces/metadata">
  <id>http://www.legislation.gov.uk/new/uksi/{index}</id>
  <title>New UK Statutory Instruments</title>
  <updated>{base.strftime("%Y-%m-%dT%H:%M:%SZ")}</updated>
{"".join(entries)}</feed>
"""


def wordpress_rss(rng: random.Random, index: int, base: datetime, target: int) -> str:
    items = []
    size = 0
    n = 0
    while size < target:
        n += 1
        when = (base - timedelta(hours=3 * n)).strftime("%a, %d %b %Y %H:%M:%S +0000")
        link = f"https://news{index}.example.org/{2016 + n % 4}/story-{n}/"
        body = "".join(
            f'<p>{escape(paragraph(rng, 3))} <a href="/related/{n}-{p}/">Related</a></p>\n'
            for p in range(rng.randint(3, 6))
        )
        categories = "".join(
            f"<category><![CDATA[{rng.choice(WORDS).title()}]]></category>" for _ in range(3)
        )
        item = f"""	<item>
		<title>{escape(sentence(rng, rng.randint(6, 12))[:-1])}</title>
		<link>{link}?utm_source=rss&amp;utm_medium=rss</link>
		<dc:creator><![CDATA[Reporter {n % 7}]]></dc:creator>
		<pubDate>{when}</pubDate>
		{categories}
		<guid isPermaLink="false">https://news{index}.example.org/?p={n}</guid>
		<description><![CDATA[<p>{escape(paragraph(rng, 1))}</p>]]></description>
		<content:encoded><![CDATA[{body}]]></content:encoded>
	</item>
"""
        items.append(item)
        size += len(item)
    return f"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"
	xmlns:content="http://purl.org/rss/1.0/modules/content/"
	xmlns:dc="http://purl.org/dc/elements/1.1/"
	xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
	<title>Sector News {index}</title>
	<link>https://news{index}.example.org</link>
	<description>News for children's services</description>
{"".join(items)}</channel>
</rss>
"""


GENERATORS = (
    (govuk_atom, ".atom"),
    (legislation_atom, ".atom"),
    (wordpress_rss, ".rss"),
)


def generate(folder: Path, count: int, seed: int, average: int) -> list[Path]:
    rng = random.Random(seed)
    base = datetime(2019, 12, 1, tzinfo=UTC)
    paths = []
    for index in range(count):
        generator, suffix = GENERATORS[index % len(GENERATORS)]
        target = int(average * rng.uniform(0.5, 1.5))
        path = folder / f"feed-{index:04d}{suffix}"
        path.write_text(generator(rng, index, base, target), encoding="utf-8")
        paths.append(path)
    return paths


def serve(folder: Path, port_file: Path) -> None:
    """Child-process mode: serve the folder's feeds until killed."""
    from actwatch.demo.samples.server import CONTENT_TYPES, Document, FeedServer

    documents = {
        f"/{path.name}": Document(path.read_bytes(), CONTENT_TYPES[path.suffix])
        for path in sorted(folder.iterdir())
        if path.suffix in CONTENT_TYPES
    }
    for document in documents.values():
        document.gzipped  # noqa: B018 - compress once, before the clock starts
    server = FeedServer(documents)
    port_file.write_text(str(server.server_address[1]))
    server.serve_forever()


def floor_seconds(paths: list[Path], base_url: str) -> float:
    import feedparser

    started = time.perf_counter()
    for path in paths:
        suffix = path.suffix
        feedparser.parse(
            io.BytesIO(path.read_bytes()),
            response_headers={
                "content-type": "application/atom+xml"
                if suffix == ".atom"
                else "application/rss+xml",
                "content-location": f"{base_url}/{path.name}",
            },
        )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--average-bytes", type=int, default=40_000)
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--floor", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port_file)
        return
    if args.floor:
        # A fresh process that never imports actwatch: feedparser exactly as installed.
        paths = sorted(path for path in args.floor.iterdir() if path.suffix in (".atom", ".rss"))
        print(floor_seconds(paths, "http://127.0.0.1:1"))
        return

    from actwatch.config import parse_config
    from actwatch.db import make_engine, upgrade
    from actwatch.feeds import poll_feeds
    from actwatch.feeds.workers import worker_count

    with tempfile.TemporaryDirectory(prefix="actwatch-bench-") as temp:
        folder = Path(temp) / "feeds"
        folder.mkdir()
        paths = generate(folder, args.feeds, args.seed, args.average_bytes)
        total_bytes = sum(path.stat().st_size for path in paths)
        port_file = Path(temp) / "port"
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(folder), "--port-file", str(port_file)]
        )
        try:
            for _ in range(200):
                if port_file.exists() and port_file.read_text():
                    break
                time.sleep(0.05)
            base_url = f"http://127.0.0.1:{int(port_file.read_text())}"
            cores = worker_count(None)
            floor = float(
                subprocess.run(
                    [sys.executable, __file__, "--floor", str(folder)],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
            )

            data = _repo_config()
            data["feeds"] = [
                {"name": path.stem, "url": f"{base_url}/{path.name}"} for path in paths
            ]
            data["fetch"]["min_interval"] = "0s"
            data["database"] = {"url": "sqlite:///bench.db"}
            config = parse_config(data, Path(temp) / "config.yaml")
            engine = make_engine(config.database_url)
            upgrade(engine)

            started = time.perf_counter()
            main_cpu = time.process_time()
            cold = poll_feeds(engine, config)
            cold_seconds = time.perf_counter() - started
            cold_main_cpu = time.process_time() - main_cpu
            cold_parse_cpu = sum(outcome.parse_cpu_seconds for outcome in cold.outcomes)
            started = time.perf_counter()
            warm = poll_feeds(engine, config)
            warm_seconds = time.perf_counter() - started
            engine.dispose()
        finally:
            server.kill()
            server.wait()

    target_cold = 1.5 * floor / cores
    figures = {
        "feeds": args.feeds,
        "megabytes": round(total_bytes / 1e6, 2),
        "cores": cores,
        "floor_seconds": round(floor, 3),
        "cold_seconds": round(cold_seconds, 3),
        "cold_ratio_to_floor": round(cold_seconds / floor, 3),
        "cold_target_seconds": round(target_cold, 3),
        "cold_ok": cold_seconds <= target_cold,
        "warm_seconds": round(warm_seconds, 4),
        "warm_ms_per_feed": round(1000 * warm_seconds / args.feeds, 3),
        "warm_ok": warm_seconds / args.feeds < 0.001,
        "cold_cpu_parse_workers": round(cold_parse_cpu, 3),
        "cold_cpu_main_process": round(cold_main_cpu, 3),
        "cold_cpu_ratio_to_floor": round((cold_parse_cpu + cold_main_cpu) / floor, 3),
        "load_average": round(os.getloadavg()[0], 2),
        "cold_new_items": cold.new_items,
        "cold_failed": cold.failed,
        "warm_not_modified": warm.not_modified,
        "warm_new_items": warm.new_items,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{args.feeds} feeds, {total_bytes / 1e6:.1f} MB, {cores} cores")
    print(f"floor (feedparser alone, one process): {floor:8.3f} s")
    print(
        f"cold pass (fetch, parse, store):        {cold_seconds:8.3f} s  "
        f"= {cold_seconds / floor:.2f} x floor, target <= {target_cold:.3f} s "
        f"(1.5 x floor / {cores} cores): {'met' if figures['cold_ok'] else 'MISSED'}"
    )
    print(
        f"  cpu: parsing {cold_parse_cpu:.3f} s in workers + {cold_main_cpu:.3f} s in this process"
        f" = {figures['cold_cpu_ratio_to_floor']:.2f} x floor (load average "
        f"{figures['load_average']}: other processes on this machine slow every figure)"
    )
    print(
        f"warm pass (all 304):                    {warm_seconds:8.3f} s  "
        f"= {figures['warm_ms_per_feed']:.3f} ms per feed, target < 1 ms: "
        f"{'met' if figures['warm_ok'] else 'MISSED'}"
    )
    print(
        f"items stored: {cold.new_items} (cold: {cold.ok} ok, {cold.failed} failed; "
        f"warm: {warm.not_modified} not modified, {warm.new_items} new)"
    )


def _repo_config() -> dict[str, object]:
    import yaml

    path = Path(__file__).resolve().parents[1] / "config.yaml"
    data: dict[str, object] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
