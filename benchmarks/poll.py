"""Benchmark the whole `actwatch poll`, as a process, against feedparser's own speed and a peer.

Generates N realistic feeds (GOV.UK Atom, legislation.gov.uk Atom with ukm: metadata, WordPress
RSS with content:encoded; about 40 KB each, so 200 feeds are about 8 MB), serves them from a
separate process on 127.0.0.1 (ETag, Last-Modified, 304, gzip), then times, in one run:

- floor: feedparser alone parsing every body in one process (a fresh one that never imports
  actwatch, with feedparser's default settings, as rss2email and lemon24/reader use it);
- cold: `actwatch poll --json` as a whole process (start-up, fetch, parse, store, classify and
  store the verdicts) into a migrated, empty SQLite database; once with the learned scorer
  still to train (a brand-new install) and once with it cached (every later cold pass);
- warm: `actwatch poll --force --json` again, every feed answering 304;
- the peer: lemon24/reader (`update_feeds(workers=4)`, cold then warm) as a whole process, in a
  virtual environment of its own that this script creates and installs reader into (kept in
  ~/.cache/actwatch-benchmarks; a note is printed and the peer skipped when it cannot be had).

Each process is timed from outside (wall clock); actwatch's own JSON gives the breakdown.
Targets (issue 17): cold <= 1.5 x (floor / cores) and at least 2 x faster than reader; warm
<= 1 ms per feed plus start-up, where start-up is `actwatch poll` with no feed due (the same
imports, config, database and matching check, no request), measured in the same run.

    python benchmarks/poll.py [--feeds 200] [--seed 1] [--no-reader]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
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


READER_VENV = Path.home() / ".cache" / "actwatch-benchmarks" / "reader-venv"
READER_SCRIPT = """
import sys, time
from reader import make_reader
started = time.perf_counter()
reader = make_reader(sys.argv[1])
for url in sys.argv[3:]:
    reader.add_feed(url, exist_ok=True)
reader.update_feeds(workers=int(sys.argv[2]))
entries = reader.get_entry_counts().total
reader.close()
print(entries)
"""


def reader_python(venv: Path) -> tuple[Path | None, str]:
    """The interpreter of a venv holding lemon24/reader, made on first use; or why not."""
    python = venv / "bin" / "python"
    check = [
        str(python),
        "-c",
        "import reader, sgmllib; print(reader.__version__)",
    ]
    if python.exists():
        done = subprocess.run(check, capture_output=True, text=True, check=False)
        if done.returncode == 0:
            return python, done.stdout.strip()
    try:
        venv.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            # reader's vendored feedparser imports sgmllib, which reader does not declare.
            [str(python), "-m", "pip", "install", "-q", "reader", "sgmllib3k"],
            check=True,
            capture_output=True,
            timeout=600,
        )
        done = subprocess.run(check, capture_output=True, text=True, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"cannot install reader into {venv}: {exc}"
    return python, done.stdout.strip()


def timed_process(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])} ... failed ({done.returncode}):\n{done.stderr}")
    return seconds, done.stdout


def actwatch_command() -> list[str]:
    script = shutil.which("actwatch", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "actwatch"]


def write_config(folder: Path, name: str, urls: list[str]) -> Path:
    import yaml

    data = _repo_config()
    data["feeds"] = [{"name": f"feed-{index:04d}", "url": url} for index, url in enumerate(urls)]
    # A feed just fetched is not due for an hour: `poll` then fetches nothing (start-up), and
    # `poll --force` fetches every feed (the warm pass).
    data["fetch"]["min_interval"] = "1h"  # type: ignore[index]
    # No network in a benchmark: instruments of the Act are read from the feeds alone.
    data["matching"]["fetch_instruments"] = False  # type: ignore[index]
    data["database"] = {"url": f"sqlite:///{name}.db"}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--average-bytes", type=int, default=40_000)
    parser.add_argument("--reader-workers", type=int, default=4)
    parser.add_argument("--no-reader", action="store_true", help="Skip lemon24/reader.")
    parser.add_argument("--reader-venv", type=Path, default=READER_VENV)
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

    from actwatch.feeds.workers import worker_count

    reader: tuple[Path | None, str] = (None, "skipped (--no-reader)")
    if not args.no_reader:
        reader = reader_python(args.reader_venv)
    # Bytecode written as an installed package has it; ACTWATCH_CONFIG never leaks in.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE",)}
    env.pop("ACTWATCH_CONFIG", None)
    actwatch = actwatch_command()
    figures: dict[str, object] = {"feeds": args.feeds}
    with tempfile.TemporaryDirectory(prefix="actwatch-bench-") as temp:
        work = Path(temp)
        folder = work / "feeds"
        folder.mkdir()
        paths = generate(folder, args.feeds, args.seed, args.average_bytes)
        total_bytes = sum(path.stat().st_size for path in paths)
        port_file = work / "port"
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(folder), "--port-file", str(port_file)]
        )
        try:
            for _ in range(200):
                if port_file.exists() and port_file.read_text():
                    break
                time.sleep(0.05)
            base_url = f"http://127.0.0.1:{int(port_file.read_text())}"
            urls = [f"{base_url}/{path.name}" for path in paths]
            cores = worker_count(None)
            floor = float(
                subprocess.run(
                    [sys.executable, __file__, "--floor", str(folder)],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
            )
            version, _ = timed_process([*actwatch, "--version"], work, env)
            version, _ = timed_process([*actwatch, "--version"], work, env)

            # A brand-new install: the learned scorer is trained during the first pass.
            first = write_config(work, "first", urls)
            timed_process([*actwatch, "--config", str(first), "init"], work, env)
            new_install, out = timed_process(
                [*actwatch, "--config", str(first), "poll", "--json"], work, env
            )

            # Every later cold pass: the scorer is cached in the database, no item stored yet.
            config = write_config(work, "bench", urls)
            timed_process([*actwatch, "--config", str(config), "init"], work, env)
            timed_process([*actwatch, "--config", str(config), "reclassify"], work, env)
            cold, out = timed_process(
                [*actwatch, "--config", str(config), "poll", "--json"], work, env
            )
            cold_json = json.loads(out)
            warm, out = timed_process(
                [*actwatch, "--config", str(config), "poll", "--force", "--json"], work, env
            )
            warm_json = json.loads(out)
            idle, out = timed_process(
                [*actwatch, "--config", str(config), "poll", "--json"], work, env
            )
            idle_json = json.loads(out)
            assert idle_json["skipped"] == args.feeds, idle_json

            python, reader_note = reader
            if python is not None:
                argv = [
                    str(python),
                    "-c",
                    READER_SCRIPT,
                    str(work / "reader.sqlite"),
                    str(args.reader_workers),
                    *urls,
                ]
                try:
                    reader_cold, reader_entries = timed_process(argv, work, env)
                    reader_warm, _ = timed_process(argv, work, env)
                except SystemExit as failed:
                    reader = (None, f"skipped: it failed to run: {failed}")
                else:
                    figures.update(
                        reader=reader_note,
                        reader_cold_seconds=round(reader_cold, 3),
                        reader_warm_seconds=round(reader_warm, 3),
                        reader_entries=int(reader_entries),
                    )
        finally:
            server.kill()
            server.wait()

    target_cold = 1.5 * floor / cores
    figures.update(
        megabytes=round(total_bytes / 1e6, 2),
        cores=cores,
        load_average=[round(x, 2) for x in os.getloadavg()],
        floor_seconds=round(floor, 3),
        version_seconds=round(version, 3),
        new_install_seconds=round(new_install, 3),
        cold_seconds=round(cold, 3),
        cold_target_seconds=round(target_cold, 3),
        cold_ok=cold <= target_cold,
        cold_ratio_to_floor=round(cold / floor, 3),
        cold_json=cold_json,
        warm_seconds=round(warm, 3),
        idle_seconds=round(idle, 3),
        warm_ms_per_feed_over_startup=round(1000 * (warm - idle) / args.feeds, 3),
        warm_ok=(warm - idle) / args.feeds <= 0.001,
        warm_pass_ms_per_feed=round(
            1000
            * (warm_json["seconds"] - warm_json.get("seconds_by_step", {}).get("classify", 0))
            / args.feeds,
            3,
        ),
        warm_json=warm_json,
    )
    if "reader_cold_seconds" in figures:
        figures["cold_speedup_over_reader"] = round(figures["reader_cold_seconds"] / cold, 2)  # type: ignore[operator]
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    load = figures["load_average"]
    print(f"{args.feeds} feeds, {total_bytes / 1e6:.1f} MB, {cores} cores, load average {load}")
    print(
        f"floor (feedparser alone, one process):   {floor:7.3f} s;"
        f" floor / {cores} cores = {floor / cores:.3f} s"
    )
    print(f"actwatch --version:                       {version:7.3f} s")
    print(f"start-up: `actwatch poll`, no feed due:   {idle:7.3f} s")
    # Older versions (PYTHONPATH=their src, to compare) report no breakdown.
    steps = cold_json.get("seconds_by_step") or dict.fromkeys(
        ("fetch", "parse", "store", "classify"), float("nan")
    )
    print(
        f"cold `actwatch poll`, whole process:      {cold:7.3f} s = {cold / (floor / cores):.2f} x"
        f" (floor / {cores}); target <= 1.5 x = {target_cold:.3f} s:"
        f" {'met' if figures['cold_ok'] else 'NOT met'}"
    )
    print(
        f"  its own report: {cold_json['seconds']:.3f} s; fetch {steps['fetch']:.3f}, parse"
        f" {steps['parse']:.3f}, store {steps['store']:.3f} (overlapping), classify"
        f" {steps['classify']:.3f}; {cold_json['new_items']} items, "
        f"{cold_json['matching']['classified']} classified"
    )
    print(f"  a brand-new install's first poll (trains the learned scorer): {new_install:.3f} s")
    print(
        f"warm `actwatch poll --force` (all 304):   {warm:7.3f} s = start-up + "
        f"{figures['warm_ms_per_feed_over_startup']:.3f} ms per feed; target <= 1 ms: "
        f"{'met' if figures['warm_ok'] else 'NOT met'} ({warm_json['not_modified']} not modified;"
        f" the pass itself, by its own report: {figures['warm_pass_ms_per_feed']:.3f} ms per feed)"
    )
    if "reader_cold_seconds" in figures:
        speedup = figures["cold_speedup_over_reader"]
        print(
            f"lemon24/reader {figures['reader']} ({args.reader_workers} workers), whole process:"
            f" cold {figures['reader_cold_seconds']:.3f} s,"
            f" warm {figures['reader_warm_seconds']:.3f} s,"
            f" {figures['reader_entries']} entries"
        )
        print(
            f"  actwatch cold is {speedup:.2f} x faster than reader; target >= 2 x:"
            f" {'met' if speedup >= 2 else 'NOT met'}"  # type: ignore[operator]
        )
    else:
        print(f"lemon24/reader: {reader[1]}")


def _repo_config() -> dict[str, object]:
    import yaml

    path = Path(__file__).resolve().parents[1] / "config.yaml"
    data: dict[str, object] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
