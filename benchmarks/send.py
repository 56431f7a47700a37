"""Delivery speed: the real bulletin to N subscribers through a local SMTP sink.

    python benchmarks/send.py [--messages 20000] [--baseline 2000] [--connections 4]

Builds the demo's bulletin from the bundled sample feeds, approves it, imports N subscribers
with a mix of strand choices (so several renderings), and sends it with `send_bulletin` to a
minimal SMTP sink running in another process on 127.0.0.1. The baseline, in the same run,
sends to other subscribers the same way but opens a new SMTP connection for every message.
Prints messages per second for both, the distinct renderings, and the peak memory of this
process. Target: 1,000 msg/s on 2 cores, peak memory under 300 MB at 100,000 subscribers.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import smtplib
import socket
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--baseline", type=int, default=2_000, help="Messages for the baseline.")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--folder", type=Path, help="Work here instead of a temporary folder.")
    args = parser.parse_args()

    from actwatch.config import load_config
    from actwatch.db import open_database
    from actwatch.db.schema import subscribers
    from actwatch.delivery import send_bulletin
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
    approve(engine, config, demo.bulletin_id, by="benchmark")

    total = args.messages + args.baseline
    csv_path = folder / "readers.csv"
    with csv_path.open("w", encoding="utf-8") as handle:
        handle.write("email,name,strands\n")
        for i in range(total):
            handle.write(f"reader{i}@bench.example.org,Reader {i},{CHOICES[i % len(CHOICES)]}\n")
    imported = import_file(engine, config, csv_path)
    setup = time.perf_counter() - started
    print(
        f"Setup: demo bulletin {demo.season.slug if demo.season else '?'}, {imported.added:,} "
        f"subscribers imported ({setup:.1f}s); load average {os.getloadavg()[0]:.2f} on "
        f"{os.cpu_count()} cores"
    )

    counter = multiprocessing.Value("q", 0)
    ready = multiprocessing.Event()
    sink = multiprocessing.Process(target=run_sink, args=(port, counter, ready), daemon=True)
    sink.start()
    ready.wait(10)
    try:
        # The baseline's readers are held back while the pooled run sends to the others.
        baseline_ids = range(args.messages + 1, total + 1)

        def hold(status: str) -> None:
            with engine.begin() as connection:
                connection.execute(
                    update(subscribers)
                    .where(subscribers.c.id.in_(list(baseline_ids)))
                    .values(status=status)
                )

        hold("pending")
        before = counter.value
        pooled = send_bulletin(
            engine,
            config,
            demo.bulletin_id,
            connections=args.connections,
            transport_factory=smtp_factory(config),
        )
        pooled_received = counter.value - before
        hold("confirmed")
        from actwatch.db.schema import bulletins

        with engine.begin() as connection:  # let the same bulletin go to the baseline's readers
            connection.execute(
                update(bulletins).where(bulletins.c.id == demo.bulletin_id).values(state="sending")
            )
        before = counter.value
        baseline = send_bulletin(
            engine,
            config,
            demo.bulletin_id,
            connections=args.connections,
            transport_factory=lambda: ConnectionPerMessage(port),
        )
        baseline_received = counter.value - before
    finally:
        sink.terminate()
        sink.join()
    print(
        f"Pooled ({args.connections} reused connections): {pooled.sent:,} sent, "
        f"{pooled_received:,} received in {pooled.seconds:.2f}s = {pooled.rate:,.0f} msg/s "
        f"({pooled.renders} distinct renderings)"
    )
    print(
        f"Baseline (a connection per message, {args.connections} threads): {baseline.sent:,} "
        f"sent, {baseline_received:,} received in {baseline.seconds:.2f}s = "
        f"{baseline.rate:,.0f} msg/s"
    )
    if baseline.rate:
        print(f"Speed-up: {pooled.rate / baseline.rate:.1f}x")
    print(f"Peak memory of this process: {peak_mb():.0f} MB (target < 300 MB at 100,000)")
    print(f"Target 1,000 msg/s: {'met' if pooled.rate >= 1000 else 'NOT met'}")
    if pooled.sent != args.messages or baseline.sent != args.baseline:
        sys.exit("not every message was sent")


if __name__ == "__main__":
    main()
