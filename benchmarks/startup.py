"""Start-up: whole `actwatch` processes, timed against `python -c pass` in the same run.

A command's start-up is most of what a user waits for when the command itself has little to do
(`--version`, listing bulletins). Each command runs as its own process, several times, and the
median wall time is printed against its target and against the interpreter's own start-up
(`python -c pass`, measured in the same run), which no change to actwatch can go below.

- `actwatch --version`: target 0.35 s;
- `actwatch bulletins --json` on a migrated database with a few bulletins: target 0.8 s;
- `actwatch --help` (lists every command, so imports every command module), for information.

Bytecode is written and warmed first (one untimed run of each command), as an installed package
has it: without .pyc files the figures measure the compiler instead.

    python benchmarks/startup.py [--repeat 9] [--config config.yaml]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGETS = {"--version": 0.35, "bulletins --json": 0.8}


def actwatch_command() -> list[str]:
    script = shutil.which("actwatch", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "actwatch"]


def timed(argv: list[str], env: dict[str, str], cwd: Path, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(argv, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times


def seed_database(config: Path, env: dict[str, str], cwd: Path) -> None:
    """A migrated database holding a handful of bulletins, so listing them does some work."""
    script = f"""
from datetime import UTC, datetime
from sqlalchemy import insert
from actwatch.config import load_config
from actwatch.db import open_database
from actwatch.db.schema import bulletins
config = load_config({str(config)!r})
engine = open_database(config)
with engine.begin() as connection:
    for year in range(2017, 2021):
        for season in ("spring", "summer", "autumn", "winter"):
            connection.execute(insert(bulletins).values(
                season=f"{{season}}-{{year}}", state="draft",
                created_at=datetime.now(UTC), updated_at=datetime.now(UTC)))
"""
    subprocess.run([sys.executable, "-c", script], env=env, cwd=cwd, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--config", type=Path, default=REPO / "config.yaml")
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.pop("ACTWATCH_CONFIG", None)
    actwatch = actwatch_command()
    with tempfile.TemporaryDirectory(prefix="actwatch-startup-") as folder:
        cwd = Path(folder)
        config = cwd / "config.yaml"
        text = args.config.read_text(encoding="utf-8")
        config.write_text(text, encoding="utf-8")
        try:
            seed_database(config, env, cwd)
            seeded = True
        except subprocess.CalledProcessError:
            seeded = False  # the bulletins table changed shape: list an empty database instead
            subprocess.run(
                [*actwatch, "--config", str(config), "init"], env=env, cwd=cwd, check=True
            )
        commands = {
            "--version": [*actwatch, "--version"],
            "bulletins --json": [*actwatch, "--config", str(config), "bulletins", "--json"],
            "--help": [*actwatch, "--help"],
        }
        baseline_argv = [sys.executable, "-c", "pass"]
        for argv in (baseline_argv, *commands.values()):  # write bytecode, warm the page cache
            timed(argv, env, cwd, 1)
        # Interleaved rounds, so a burst of load from elsewhere falls on every command alike.
        samples: dict[str, list[float]] = {name: [] for name in ["python -c pass", *commands]}
        for _ in range(args.repeat):
            samples["python -c pass"] += timed(baseline_argv, env, cwd, 1)
            for name, argv in commands.items():
                samples[name] += timed(argv, env, cwd, 1)
    load = os.getloadavg()
    baseline = statistics.median(samples["python -c pass"])
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {os.cpu_count()} cores")
    print(f"median of {args.repeat} whole processes each (min-max in brackets)")
    print(f"  {'python -c pass':<25} {baseline:6.3f} s  (baseline, same run)")
    for name in commands:
        times = samples[name]
        median = statistics.median(times)
        line = (
            f"  actwatch {name:<16} {median:6.3f} s  [{min(times):.3f}-{max(times):.3f}]"
            f"  {median - baseline:+.3f} s over the baseline"
        )
        target = TARGETS.get(name)
        if target is not None:
            line += f"; target {target:.2f} s: {'met' if median <= target else 'NOT met'}"
        print(line)
    if not seeded:
        print("  (bulletins listed from an empty database: the seeding script needs updating)")


if __name__ == "__main__":
    main()
