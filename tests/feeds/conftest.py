"""A real HTTP server on 127.0.0.1 serving stored feed files, plus routes that misbehave."""

from __future__ import annotations

import contextlib
import gzip
import json
import time
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from actwatch.config import Config, parse_config
from actwatch.demo.samples.server import CONTENT_TYPES, Document, FeedServer, running
from tests.conftest import DATA

FEEDS = DATA / "feeds"
GOOD_FEEDS = {
    "gov-uk-dfe": "gov-uk-dfe.atom",
    "legislation-cswa": "legislation-cswa.atom",
    "community-care": "communitycare.rss",
    "what-works": "whatworks.rdf",
    "cypnow": "cypnow-091.rss",
}
SLOW_SECONDS = 4.0


def document(name: str) -> Document:
    path = FEEDS / name
    return Document(path.read_bytes(), CONTENT_TYPES.get(path.suffix, CONTENT_TYPES[".xml"]))


def billion_laughs(levels: int = 10) -> bytes:
    declarations = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{level} "{f"&lol{level - 1};" * 10}">' for level in range(1, levels)
    )
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [{declarations}]>\n'
        f'<rss version="2.0"><channel><title>&lol{levels - 1};</title>'
        f"<item><title>&lol{levels - 1};</title><link>https://example.org/lol</link></item>"
        "</channel></rss>"
    ).encode()


def gzip_bomb(size: int = 200_000_000) -> bytes:
    """`size` zero bytes gzipped (~200 KB), made without holding `size` bytes in memory."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * 1_000_000
    parts = [compressor.compress(block) for _ in range(size // len(block))]
    parts.append(compressor.flush())
    return b"".join(parts)


def _send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    content_type: str = "application/rss+xml",
    headers: dict[str, str] | None = None,
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def _redirect(target: str, status: int = 302) -> Callable[[BaseHTTPRequestHandler], None]:
    def route(handler: BaseHTTPRequestHandler) -> None:
        _send(handler, status, b"", "text/plain", {"Location": target})

    return route


def _slow(handler: BaseHTTPRequestHandler) -> None:
    time.sleep(SLOW_SECONDS)
    with contextlib.suppress(OSError):  # the client gave up long ago
        _send(handler, 200, (FEEDS / "communitycare.rss").read_bytes())


def _endless(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/rss+xml")
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.close_connection = True
    chunk = b"<item><title>more</title></item>" * 2048
    handler.wfile.write(b'<?xml version="1.0"?><rss version="2.0"><channel>')
    try:
        for _ in range(100_000):
            handler.wfile.write(chunk)
    except OSError:
        pass


def _trickle(handler: BaseHTTPRequestHandler) -> None:
    """Headers at once, then a byte every 0.2s: no read timeout ever fires, the deadline must."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/rss+xml")
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.close_connection = True
    try:
        for _ in range(600):
            handler.wfile.write(b" ")
            handler.wfile.flush()
            time.sleep(0.2)
    except OSError:
        pass


def fault_routes(bomb: bytes) -> dict[str, Callable[[BaseHTTPRequestHandler], None]]:
    misdeclared = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Café</title>'
        "<item><title>Café – résumé of the Act</title><link>https://example.org/cafe</link>"
        "</item></channel></rss>"
    ).encode("cp1252")
    return {
        "/slow": _slow,
        "/trickle": _trickle,
        "/500": lambda h: _send(h, 500, b"oops", "text/plain"),
        "/410": lambda h: _send(h, 410, b"gone", "text/plain"),
        "/loop-a": _redirect("/loop-b"),
        "/loop-b": _redirect("/loop-a"),
        "/html": lambda h: _send(
            h,
            200,
            b"<!DOCTYPE html><html><head><title>Department for Education</title></head>"
            b"<body><h1>Department for Education</h1><p>Welcome</p></body></html>",
            "text/html; charset=utf-8",
        ),
        "/malformed": lambda h: _send(
            h,
            200,
            b'<?xml version="1.0"?>\n<rss version="2.0">\n<channel <<< title=>\n</rss',
        ),
        "/endless": _endless,
        "/oversized": lambda h: _send(h, 200, b"<rss>" + b" " * 3_000_000 + b"</rss>"),
        "/gzip-bomb": lambda h: _send(h, 200, bomb, headers={"Content-Encoding": "gzip"}),
        "/billion-laughs": lambda h: _send(h, 200, billion_laughs()),
        "/empty": lambda h: _send(h, 200, b""),
        "/misdeclared": lambda h: _send(h, 200, misdeclared, "application/rss+xml"),
        "/json": lambda h: _send(
            h, 200, json.dumps({"items": [{"title": "not a feed"}]}).encode(), "application/json"
        ),
    }


@pytest.fixture(scope="session")
def bomb() -> bytes:
    return gzip_bomb()


@pytest.fixture
def feed_server(bomb: bytes) -> Iterator[FeedServer]:
    documents = {f"/{name}": document(name) for name in GOOD_FEEDS.values()}
    server = FeedServer(documents)
    server.routes.update(fault_routes(bomb))
    with running(server):
        yield server


FAST_FETCH = {
    "concurrency": 8,
    "connect_timeout": "1s",
    "read_timeout": "1s",
    "deadline": "3s",
    "max_bytes": "1MB",
    "max_redirects": 3,
    "contact": "editor@actwatch.example.org",
    "min_interval": "0s",
    "max_backoff": "1h",
    "parse_workers": 2,
}


@pytest.fixture
def make_config(tmp_path: Path, repo_config_data: dict[str, Any]) -> Callable[..., Config]:
    """The real config with the given feeds and fast fetch limits, state in tmp_path."""

    def make(feeds: list[dict[str, Any]], database_url: str | None = None, **fetch: Any) -> Config:
        data = {
            **repo_config_data,
            "feeds": feeds,
            "fetch": {**FAST_FETCH, **fetch},
            "database": {"url": database_url or "sqlite:///actwatch.db"},
        }
        return parse_config(data, tmp_path / "config.yaml")

    return make


def good_feed_configs(server: FeedServer) -> list[dict[str, str]]:
    return [{"name": name, "url": server.url(f"/{file}")} for name, file in GOOD_FEEDS.items()]


def gzip_body(body: bytes) -> bytes:
    return gzip.compress(body, mtime=0)
