"""Retrieve feeds politely: conditional GET, bounded bodies, counted redirects, errors as data.

`fetch` never raises for anything the network or the server does: the `FetchResult` says what
happened in words an operator can act on. Redirects are followed by hand so that loops are named,
hops are counted and a permanent move can be remembered. Bodies are decompressed here, not by
httpx, so that the size cap holds after decompression too (a gzip bomb stops at the cap instead
of inflating a whole network chunk at once).
"""

from __future__ import annotations

import asyncio
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal
from urllib.parse import urljoin, urlsplit

import httpx

from actwatch import __version__
from actwatch.config import Config

ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)
PERMANENT_REDIRECTS = frozenset({301, 308})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
# However long a server asks us to stay away, come back within a week to look again.
MAX_RETRY_AFTER = 7 * 86400.0

# A redirect's or an error's body up to this size is read (and dropped) to keep the connection.
DRAIN_BYTES = 64 * 1024
DRAIN_SECONDS = 1.0

FetchOutcome = Literal["ok", "not_modified", "error"]


@dataclass(frozen=True, slots=True)
class FetchLimits:
    connect_timeout: float
    read_timeout: float
    deadline: float
    max_bytes: int
    max_redirects: int

    @classmethod
    def from_config(cls, config: Config) -> FetchLimits:
        fetch = config.fetch
        return cls(
            connect_timeout=fetch.connect_timeout.total_seconds(),
            read_timeout=fetch.read_timeout.total_seconds(),
            deadline=fetch.deadline.total_seconds(),
            max_bytes=fetch.max_bytes,
            max_redirects=fetch.max_redirects,
        )


@dataclass(frozen=True, slots=True)
class FetchRequest:
    url: str
    etag: str | None = None
    last_modified: str | None = None
    deadline: float | None = None
    max_bytes: int | None = None


@dataclass(slots=True)
class FetchResult:
    outcome: FetchOutcome
    url: str
    status_code: int | None = None
    body: bytes | None = None
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    permanent_url: str | None = None
    gone: bool = False
    retry_after: float | None = None
    max_age: float | None = None
    error: str | None = None
    seconds: float = 0.0


class FetchFailed(Exception):
    """A failure already phrased for the operator."""


def user_agent(config: Config) -> str:
    """Names the product and a contact, as legislation.gov.uk's fair-use terms ask."""
    return f"actwatch/{__version__} (+{config.web.base_url}; {config.fetch.contact})"


def make_client(config: Config) -> httpx.AsyncClient:
    limits = FetchLimits.from_config(config)
    connections = config.fetch.concurrency
    return httpx.AsyncClient(
        headers={
            "User-Agent": user_agent(config),
            "Accept": ACCEPT,
            # Only what `_Inflater` can decode with a size bound.
            "Accept-Encoding": "gzip, deflate",
        },
        timeout=httpx.Timeout(
            connect=limits.connect_timeout,
            read=limits.read_timeout,
            write=limits.read_timeout,
            pool=limits.deadline,
        ),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        follow_redirects=False,
    )


async def fetch(
    client: httpx.AsyncClient, request: FetchRequest, limits: FetchLimits
) -> FetchResult:
    started = time.perf_counter()
    deadline = request.deadline or limits.deadline
    max_bytes = request.max_bytes or limits.max_bytes
    try:
        async with asyncio.timeout(deadline):
            result = await _fetch(client, request, limits, max_bytes)
    except TimeoutError:
        result = FetchResult(
            "error", request.url, error=f"gave up after the {deadline:g}s deadline"
        )
    except FetchFailed as exc:
        result = FetchResult("error", request.url, error=str(exc))
    except httpx.HTTPError as exc:
        result = FetchResult("error", request.url, error=describe_http_error(exc, limits))
    except (OSError, ValueError) as exc:
        result = FetchResult("error", request.url, error=f"cannot fetch: {exc}")
    result.seconds = time.perf_counter() - started
    return result


async def _fetch(
    client: httpx.AsyncClient, request: FetchRequest, limits: FetchLimits, max_bytes: int
) -> FetchResult:
    headers: dict[str, str] = {}
    if request.etag:
        headers["If-None-Match"] = request.etag
    if request.last_modified:
        headers["If-Modified-Since"] = request.last_modified
    url = request.url
    visited = [url]
    permanent_url: str | None = None
    still_permanent = True
    while True:
        response = await client.send(client.build_request("GET", url, headers=headers), stream=True)
        try:
            status = response.status_code
            if status in REDIRECTS and "location" in response.headers:
                target = _redirect_target(url, response.headers["location"])
                if target in visited:
                    raise FetchFailed(f"redirect loop: {' -> '.join([*visited, target])}")
                if len(visited) > limits.max_redirects:
                    raise FetchFailed(f"too many redirects (more than {limits.max_redirects})")
                if still_permanent and status in PERMANENT_REDIRECTS:
                    permanent_url = target
                else:
                    still_permanent = False
                visited.append(target)
                url = target
                await _drain(response)
                continue
            result = FetchResult(
                "error",
                url,
                status_code=status,
                permanent_url=permanent_url,
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
                retry_after=_retry_after(response.headers.get("retry-after")),
                max_age=_max_age(response.headers.get("cache-control")),
            )
            if status == 304:
                result.outcome = "not_modified"
            elif 200 <= status < 300:
                result.body = await read_body(response, max_bytes)
                result.content_type = response.headers.get("content-type")
                result.outcome = "ok"
            else:
                result.gone = status == 410
                result.error = _status_error(response)
            if result.body is None:
                await _drain(response)
            return result
        finally:
            await response.aclose()


async def _drain(response: httpx.Response) -> None:
    """Read a body not wanted to its end, so that the connection carries the next request
    (httpcore keeps a connection only when its response was read through): a 304's (empty) one,
    a redirect's or an error's when short. A long or unsized body is not worth reading, and a
    slow or broken one is given up on: that connection is then closed, as before."""
    declared = response.headers.get("content-length", "")
    if response.status_code != 304 and not (declared.isdigit() and int(declared) <= DRAIN_BYTES):
        return
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            async for _ in response.aiter_raw():
                pass
    except (TimeoutError, httpx.HTTPError):
        pass


def _redirect_target(url: str, location: str) -> str:
    target = urljoin(url, location.strip())
    if urlsplit(target).scheme not in ("http", "https"):
        raise FetchFailed(f"redirected to a URL that is not http(s): {target}")
    return target


def _status_error(response: httpx.Response) -> str:
    status = response.status_code
    text = f"HTTP {status} {response.reason_phrase}".rstrip()
    if status == 410:
        return f"{text}: the server says this feed is gone for good"
    if status == 404:
        return f"{text}: no feed at this URL"
    if status in (401, 403):
        return f"{text}: the server refuses us"
    if status == 429:
        return f"{text}: the server says we ask too often"
    if status >= 500:
        return f"{text}: the server failed"
    return text


def describe_http_error(exc: httpx.HTTPError, limits: FetchLimits) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return f"could not connect within {limits.connect_timeout:g}s"
    if isinstance(exc, httpx.ReadTimeout):
        return f"the server sent nothing for {limits.read_timeout:g}s (read timeout)"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect: {exc or type(exc).__name__}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the server broke the HTTP protocol: {exc}"
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return f"bad URL: {exc}"
    return f"{type(exc).__name__}: {exc}"


class BodyTooLarge(FetchFailed):
    pass


async def read_body(response: httpx.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(
            f"the body is {int(declared):,} bytes, over the {max_bytes:,} byte limit"
        )
    inflater = _Inflater.for_encoding(response.headers.get("content-encoding", ""))
    chunks: list[bytes] = []
    received = 0
    produced = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received > max_bytes:
            raise BodyTooLarge(f"the body is over the {max_bytes:,} byte limit")
        data = inflater.feed(chunk, max_bytes - produced) if inflater else chunk
        produced += len(data)
        chunks.append(data)
    if inflater:
        tail = inflater.finish(max_bytes - produced)
        chunks.append(tail)
    return b"".join(chunks)


class _Inflater:
    """zlib with a bound on what one call may produce."""

    def __init__(self, gzip: bool) -> None:
        self.gzip = gzip
        self._decompressor: zlib._Decompress | None = zlib.decompressobj(31) if gzip else None

    @classmethod
    def for_encoding(cls, header: str) -> _Inflater | None:
        encodings = [part.strip().lower() for part in header.split(",") if part.strip()]
        encodings = [encoding for encoding in encodings if encoding != "identity"]
        if not encodings:
            return None
        if len(encodings) > 1:
            raise FetchFailed(f"unsupported Content-Encoding {header!r}")
        if encodings[0] in ("gzip", "x-gzip"):
            return cls(gzip=True)
        if encodings[0] == "deflate":
            return cls(gzip=False)
        raise FetchFailed(f"unsupported Content-Encoding {header!r}")

    def feed(self, data: bytes, room: int) -> bytes:
        if self._decompressor is None:
            # "deflate" is zlib-wrapped by the standard, raw by some servers: the first bytes tell.
            wrapped = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._decompressor = zlib.decompressobj(15 if wrapped else -15)
        pieces: list[bytes] = []
        produced = 0
        try:
            while data:
                piece = self._decompressor.decompress(data, room - produced + 1)
                produced += len(piece)
                if produced > room:
                    raise BodyTooLarge("the body is over the size limit once decompressed")
                pieces.append(piece)
                if self._decompressor.eof:
                    data = self._decompressor.unused_data
                    if not (data and self.gzip and data.lstrip(b"\x00")):
                        break
                    self._decompressor = zlib.decompressobj(31)  # another gzip member
                else:
                    data = self._decompressor.unconsumed_tail
        except zlib.error as exc:
            raise FetchFailed(f"the compressed body is corrupt: {exc}") from None
        return b"".join(pieces)

    def finish(self, room: int) -> bytes:
        if self._decompressor is None:
            return b""
        try:
            tail = self._decompressor.flush(room + 1)
        except zlib.error as exc:
            raise FetchFailed(f"the compressed body is corrupt: {exc}") from None
        if len(tail) > room:
            raise BodyTooLarge("the body is over the size limit once decompressed")
        return tail


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - datetime.now(UTC)).total_seconds(), 0.0), MAX_RETRY_AFTER)


def _max_age(value: str | None) -> float | None:
    if not value:
        return None
    directives = {}
    for part in value.split(","):
        name, _, argument = part.strip().partition("=")
        directives[name.strip().lower()] = argument.strip().strip('"')
    if "no-store" in directives or "no-cache" in directives:
        return None
    age = directives.get("max-age", "")
    return float(age) if age.isdigit() else None
