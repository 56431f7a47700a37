"""Delivery speed: the real bulletin to N subscribers through a local SMTP sink.

    python benchmarks/send.py [--messages 20000] [--baseline 2000] [--connections 4]
                              [--rate 400 --rate-messages 2000]

Builds the demo's bulletin from the bundled sample feeds, approves it, imports subscribers with
a mix of strand choices (so several renderings), and sends it with `send_bulletin` to Postfix's
`smtp-sink` on 127.0.0.1 (it offers PIPELINING, as real relays do); without Postfix's tools, to
a minimal sink in another process. In the same run, against the same sink:

- the naive baseline: the same send, but a new SMTP connection for every message;
- `smtp-source` (Postfix's C load generator, the same connections reused, messages of the same
  size), when installed: the ceiling for this machine and sink;
- a rate-limited send (`--rate` messages a second), whose achieved rate should be within 10 %
  of its limit.

Prints messages per second for each, the ratios, the distinct renderings, and the peak memory
of this process. Targets (issue 17): >= 3x the naive sender and >= 0.5x smtp-source.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import update

CHOICES = (
    "",
    "care-leavers",
    "safeguarding-partnerships",
    "care-leavers;corporate-parenting",
    "social-work-england;sector-led-improvement",
    "relationships-education;schools-accountability",
)


# A sink that accepts everything as fast as it can (pipelining-safe, no parsing of content).


class SinkProtocol(asyncio.Protocol):
    counter: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.buffer = b""
        self.in_data = False
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    # Keep only the tail that could hold the start of the terminator.
                    return
                self.buffer = self.buffer[end + 5 :]
                self.in_data = False
                with self.counter.get_lock():
                    self.counter.value += 1
                self.transport.write(b"250 2.0.0 ok\r\n")
                continue
            line, sep, rest = self.buffer.partition(b"\r\n")
            if not sep:
                return
            self.buffer = rest
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self.transport.write(b"250-sink\r\n250-8BITMIME\r\n250 SIZE 100000000\r\n")
            elif verb == b"DATA":
                self.in_data = True
                self.transport.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                self.transport.write(b"221 bye\r\n")
                self.transport.close()
                return
            else:
                self.transport.write(b"250 ok\r\n")


def run_sink(port: int, counter: Any, ready: Any) -> None:
    SinkProtocol.counter = counter

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(SinkProtocol, "127.0.0.1", port, backlog=1024)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ConnectionPerMessage:
    """The baseline: a fresh SMTP session for every message."""

    def __init__(self, port: int) -> None:
        self.port = port

    def send_raw(
        self, sender: str, recipient: str, data: bytes, *, dot_stuffed: bool = False
    ) -> None:
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as smtp:
            smtp.ehlo()
            smtp.mail(sender)
            smtp.rcpt(recipient)
            if dot_stuffed:  # the same DATA as the pooled run, so only connections differ
                code, _ = smtp.docmd("data")
                assert code == 354
                smtp.send(data + b".\r\n")
                assert smtp.getreply()[0] == 250
            else:
                smtp.data(data)

    def close(self) -> None:
        pass


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def start_sink(port: int) -> tuple[str, Any, Any]:
    """Postfix's smtp-sink when installed, else the Python sink: (name, process, counter)."""
    found = shutil.which("smtp-sink") or (
        "/usr/sbin/smtp-sink" if Path("/usr/sbin/smtp-sink").exists() else None
    )
    if found:
        command = [found, "-4"]
        if os.geteuid() == 0:
            command += ["-u", "nobody"]
        process = subprocess.Popen(
            [*command, f"127.0.0.1:{port}", "1024"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return "Postfix smtp-sink", process, None
            time.sleep(0.02)
        process.kill()
        raise SystemExit("smtp-sink did not start")
    counter = multiprocessing.Value("q", 0)
    ready = multiprocessing.Event()
    sink = multiprocessing.Process(target=run_sink, args=(port, counter, ready), daemon=True)
    sink.start()
    ready.wait(10)
    return "a minimal Python sink", sink, counter


def run_smtp_source(port: int, messages: int, sessions: int, size: int) -> float | None:
    """Seconds smtp-source takes for `messages` over `sessions` reused connections."""
    found = shutil.which("smtp-source") or (
        "/usr/sbin/smtp-source" if Path("/usr/sbin/smtp-source").exists() else None
    )
    if not found:
        return None
    started = time.perf_counter()
    subprocess.run(
        [
            found,
            "-4",
            "-d",
            "-s",
            str(sessions),
            "-m",
            str(messages),
            "-l",
            str(size),
            "-f",
            "bulletin@bench.example.org",
            "-t",
            "reader@bench.example.org",
            f"127.0.0.1:{port}",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--baseline", type=int, default=2_000, help="Messages for the baseline.")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rate", type=float, default=400.0, help="The rate-limited run's limit.")
    parser.add_argument("--rate-messages", type=int, default=2_000)
    parser.add_argument("--folder", type=Path, help="Work here instead of a temporary folder.")
    args = parser.parse_args()

    from actwatch.config import load_config
    from actwatch.db import open_database
    from actwatch.db.schema import bulletins, subscribers
    from actwatch.delivery import dry_run, send_bulletin
    from actwatch.delivery.run import smtp_factory
    from actwatch.demo import run_demo
    from actwatch.review import approve
    from actwatch.subscribers import import_file

    os.environ.setdefault("ACTWATCH_SECRET_KEY", "benchmark-secret-" + "b" * 40)
    folder = args.folder or Path(tempfile.mkdtemp(prefix="actwatch-send-bench-"))
    started = time.perf_counter()
    demo = run_demo(folder)
    config_text = demo.config_path.read_text(encoding="utf-8")
    port = free_port()
    demo.config_path.write_text(
        config_text.replace("url: maildir:mail", f"url: smtp://127.0.0.1:{port}"), encoding="utf-8"
    )
    config = load_config(demo.config_path)
    engine = open_database(config)
    assert demo.bulletin_id is not None
    bulletin_id = demo.bulletin_id
    approve(engine, config, bulletin_id, by="benchmark")

    groups = {"pooled": args.messages, "baseline": args.baseline, "limited": args.rate_messages}
    total = sum(groups.values())
    csv_path = folder / "readers.csv"
    with csv_path.open("w", encoding="utf-8") as handle:
        handle.write("email,name,strands\n")
        for i in range(total):
            handle.write(f"reader{i}@bench.example.org,Reader {i},{CHOICES[i % len(CHOICES)]}\n")
    imported = import_file(engine, config, csv_path)
    written, _ = dry_run(engine, config, bulletin_id, folder / "sample", limit=1)
    size = next((folder / "sample").iterdir()).stat().st_size if written else 20_000
    setup = time.perf_counter() - started
    print(
        f"Setup: demo bulletin {demo.season.slug if demo.season else '?'}, {imported.added:,} "
        f"subscribers imported, messages of about {size:,} bytes ({setup:.1f}s); load average "
        f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )
    ranges: dict[str, range] = {}
    first = 1
    for name, n in groups.items():
        ranges[name] = range(first, first + n)
        first += n

    def only(name: str) -> None:
        """Only this group's readers are confirmed; the bulletin is sending again."""
        with engine.begin() as connection:
            connection.execute(update(subscribers).values(status="pending"))
            chosen = ranges[name]
            connection.execute(
                update(subscribers)
                .where(subscribers.c.id >= chosen.start, subscribers.c.id < chosen.stop)
                .values(status="confirmed")
            )
            connection.execute(
                update(bulletins)
                .where(bulletins.c.id == bulletin_id, bulletins.c.state == "sent")
                .values(state="sending")
            )

    sink_name, sink, counter = start_sink(port)
    try:
        only("pooled")
        pooled = send_bulletin(
            engine,
            config,
            bulletin_id,
            connections=args.connections,
            transport_factory=smtp_factory(config),
        )
        only("baseline")
        baseline = send_bulletin(
            engine,
            config,
            bulletin_id,
            connections=args.connections,
            transport_factory=lambda: ConnectionPerMessage(port),
        )
        only("limited")
        limited = send_bulletin(
            engine,
            config,
            bulletin_id,
            connections=args.connections,
            rate_limit=args.rate,
            transport_factory=smtp_factory(config),
        )
        source_seconds = run_smtp_source(port, args.messages, args.connections, size)
        received = counter.value if counter is not None else None
    finally:
        sink.terminate()
        if isinstance(sink, subprocess.Popen):
            sink.wait()
        else:
            sink.join()
    print(f"Sink: {sink_name} on 127.0.0.1:{port}")
    print(
        f"actwatch ({args.connections} reused connections): {pooled.sent:,} sent in "
        f"{pooled.seconds:.2f}s = {pooled.rate:,.0f} msg/s ({pooled.renders} distinct renderings)"
    )
    print(
        f"Naive sender (a connection per message, {args.connections} threads): "
        f"{baseline.sent:,} sent in {baseline.seconds:.2f}s = {baseline.rate:,.0f} msg/s"
    )
    if baseline.rate:
        print(f"  actwatch / naive: {pooled.rate / baseline.rate:.2f}x (target >= 3x)")
    if source_seconds is not None:
        source_rate = args.messages / source_seconds
        print(
            f"smtp-source ({args.connections} reused connections, {size:,}-byte messages): "
            f"{args.messages:,} in {source_seconds:.2f}s = {source_rate:,.0f} msg/s"
        )
        print(f"  actwatch / smtp-source: {pooled.rate / source_rate:.2f}x (target >= 0.5x)")
    else:
        print("smtp-source: not installed (Postfix's tools), skipped")
    print(
        f"Rate-limited send (limit {args.rate:,.0f} msg/s): {limited.sent:,} sent in "
        f"{limited.seconds:.2f}s = {limited.rate:,.0f} msg/s, {limited.rate / args.rate:.0%} of "
        "its limit (target: within 10 %)"
    )
    if received is not None:
        print(f"The sink received {received:,} messages in all")
    print(f"Peak memory of this process: {peak_mb():.0f} MB (target < 300 MB at 100,000)")
    wanted = (pooled.sent, baseline.sent, limited.sent)
    if wanted != (args.messages, args.baseline, args.rate_messages):
        sys.exit(f"not every message was sent: {wanted}")


if __name__ == "__main__":
    main()
