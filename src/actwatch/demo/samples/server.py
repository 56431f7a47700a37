"""A small feed server on 127.0.0.1 that behaves like a careful real one: ETag, Last-Modified,
304 Not Modified, gzip and keep-alive. Used by the offline demo, the tests and the benchmark.

Documents can be replaced while the server runs (a feed that gained an entry), and extra routes
can be added (tests use them for misbehaving servers). Every request is logged for assertions.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

CONTENT_TYPES = {
    ".atom": "application/atom+xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".rdf": "application/rdf+xml; charset=utf-8",
}

Route = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Document:
    body: bytes
    content_type: str = "application/xml; charset=utf-8"
    modified: datetime = field(default_factory=lambda: datetime(2019, 12, 1, tzinfo=UTC))
    _gzipped: bytes | None = field(default=None, repr=False)

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:20] + '"'

    @property
    def gzipped(self) -> bytes:
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.body, compresslevel=6, mtime=0)
        return self._gzipped


@dataclass(frozen=True)
class LoggedRequest:
    path: str
    headers: dict[str, str]
    status: int | None = None


class FeedServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 256  # the default 5 drops connections when many feeds start at once

    def __init__(self, documents: dict[str, Document] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.documents: dict[str, Document] = dict(documents or {})
        self.routes: dict[str, Route] = {}
        self.requests: list[LoggedRequest] = []
        self.conditional = True
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def put(self, path: str, body: bytes, content_type: str | None = None) -> None:
        """Publish (or replace) a document: a new body gets a new ETag and Last-Modified."""
        previous = self.documents.get(path)
        modified = datetime.now(UTC).replace(microsecond=0)
        if previous is not None and modified <= previous.modified:
            # HTTP dates count whole seconds: a change must move Last-Modified forward.
            modified = previous.modified + timedelta(seconds=1)
        self.documents[path] = Document(
            body,
            content_type or (previous.content_type if previous else CONTENT_TYPES[".xml"]),
            modified,
        )

    def log(self, request: LoggedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def requests_for(self, path: str) -> list[LoggedRequest]:
        with self._lock:
            return [request for request in self.requests if request.path == path]


class _Handler(BaseHTTPRequestHandler):
    server: FeedServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        headers = {name.lower(): value for name, value in self.headers.items()}
        route = self.server.routes.get(path)
        if route is not None:
            self.server.log(LoggedRequest(path, headers))
            route(self)
            return
        document = self.server.documents.get(path)
        if document is None:
            self.server.log(LoggedRequest(path, headers, 404))
            self.send_bytes(404, b"not found", "text/plain")
            return
        if self.server.conditional and _not_modified(document, headers):
            self.server.log(LoggedRequest(path, headers, 304))
            self.send_response(304)
            self.send_header("ETag", document.etag)
            self.send_header("Last-Modified", format_datetime(document.modified, usegmt=True))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.server.log(LoggedRequest(path, headers, 200))
        extra = {}
        if self.server.conditional:
            extra["ETag"] = document.etag
            extra["Last-Modified"] = format_datetime(document.modified, usegmt=True)
        body = document.body
        if "gzip" in headers.get("accept-encoding", ""):
            body = document.gzipped
            extra["Content-Encoding"] = "gzip"
            extra["Vary"] = "Accept-Encoding"
        self.send_bytes(200, body, document.content_type, extra)

    def send_bytes(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def _not_modified(document: Document, headers: dict[str, str]) -> bool:
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or document.etag in tags
    if_modified_since = headers.get("if-modified-since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return document.modified <= since
    return False


@contextmanager
def running(server: FeedServer) -> Iterator[FeedServer]:
    """Serve in a background thread until the block ends."""
    thread = threading.Thread(target=server.serve_forever, name="feed-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
