"""The HTTP client's transport: httpcore's connection pools on asyncio's own streams.

A pass where every feed answers 304 is almost nothing but request overhead, and httpx's default
transport runs httpcore over anyio, whose per-call bookkeeping (cancel scopes, socket attribute
lookups each time the pool checks a connection) costs more than the request itself on loopback.
This transport keeps httpcore (HTTP/1.1, keep-alive, the pool and its timeouts) and gives it a
network layer written on asyncio streams. Plain `http://` feeds get a pool without TLS, and the
TLS pool (with its CA bundle, a good part of a pass that fetches little) is made only when an
`https://` URL is first fetched.
"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

# httpcore's exceptions and httpx's, most specific first: httpx's client and `describe_http_error`
# see what httpx's own transport would raise.
_EXCEPTIONS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextmanager
def _httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for source, target in _EXCEPTIONS:
            if isinstance(exc, source):
                raise target(str(exc)) from exc
        raise


class FeedTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over asyncio, keeping idle connections per origin; see the module's docstring.

    httpcore's own pool rescans every connection for every queued request each time a request
    starts or ends, which is most of the CPU of a 304. Here a request takes an idle connection
    of its origin (dropping any the server has closed meanwhile) or opens one, and hands it
    back when its response is closed having been read to the end. At most `max_connections`
    requests are in flight; a request waits for a slot up to the pool timeout.
    """

    def __init__(self, limits: httpx.Limits) -> None:
        self._keepalive_expiry = limits.keepalive_expiry
        self._max_idle = next(
            (n for n in (limits.max_keepalive_connections, limits.max_connections) if n), 1 << 16
        )
        self._slots = (
            asyncio.Semaphore(limits.max_connections)
            if limits.max_connections is not None
            else None
        )
        self._backend = AsyncioBackend()
        self._idle: dict[tuple[bytes, bytes, int | None], list[httpcore.AsyncHTTPConnection]] = {}
        self._idle_count = 0
        self._tls: ssl.SSLContext | None = None
        self._closed = False

    def _context(self, scheme: bytes) -> ssl.SSLContext | None:
        if scheme != b"https":
            return None  # no TLS on this connection, so no CA bundle to load
        if self._tls is None:
            # httpx's own verification: certifi's bundle, or SSL_CERT_FILE / SSL_CERT_DIR.
            self._tls = httpx.create_ssl_context()
        return self._tls

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        url = request.url
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        if self._slots is not None:
            pool_timeout = request.extensions.get("timeout", {}).get("pool")
            try:
                async with asyncio.timeout(pool_timeout):
                    await self._slots.acquire()
            except TimeoutError:
                raise httpx.PoolTimeout("no connection slot became free in time") from None
        try:
            with _httpx_errors():
                connection, response = await self._send(core_request)
        except BaseException:
            self._release_slot()
            raise
        assert isinstance(response.stream, AsyncIterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream, self, connection),
            extensions=response.extensions,
        )

    async def _send(
        self, request: httpcore.Request
    ) -> tuple[httpcore.AsyncHTTPConnection, httpcore.Response]:
        origin = request.url.origin
        key = (origin.scheme, origin.host, origin.port)
        idle = self._idle.setdefault(key, [])
        while True:
            connection = None
            while idle:
                candidate = idle.pop()
                self._idle_count -= 1
                if candidate.is_available() and not candidate.has_expired():
                    connection = candidate
                    break
                await candidate.aclose()
            if connection is None:
                connection = httpcore.AsyncHTTPConnection(
                    origin,
                    ssl_context=self._context(origin.scheme),
                    keepalive_expiry=self._keepalive_expiry,
                    network_backend=self._backend,
                )
            try:
                return connection, await connection.handle_async_request(request)
            except httpcore.ConnectionNotAvailable:
                continue  # it closed as we took it: as httpcore's pool does, take another
            except BaseException:
                await connection.aclose()
                raise

    async def _returned(self, connection: httpcore.AsyncHTTPConnection) -> None:
        """A response is closed: keep its connection if it can carry another request."""
        self._release_slot()
        if not self._closed and connection.is_idle() and self._idle_count < self._max_idle:
            origin = connection._origin
            self._idle.setdefault((origin.scheme, origin.host, origin.port), []).append(connection)
            self._idle_count += 1
        else:
            await connection.aclose()

    def _release_slot(self) -> None:
        if self._slots is not None:
            self._slots.release()

    async def aclose(self) -> None:
        self._closed = True
        idle = [connection for connections in self._idle.values() for connection in connections]
        self._idle.clear()
        self._idle_count = 0
        with _httpx_errors():
            for connection in idle:
                await connection.aclose()


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(
        self,
        stream: AsyncIterable[bytes],
        transport: FeedTransport,
        connection: httpcore.AsyncHTTPConnection,
    ) -> None:
        self._stream = stream
        self._transport = transport
        self._connection: httpcore.AsyncHTTPConnection | None = connection

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            close = getattr(self._stream, "aclose", None)
            if close is not None:
                with _httpx_errors():
                    await close()
        finally:
            await self._transport._returned(connection)


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, local_addr=(local_address, 0) if local_address else None
                )
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        sock = writer.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return AsyncioStream(reader, writer)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.UnsupportedProtocol("feeds are not fetched over Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class AsyncioStream(httpcore.AsyncNetworkStream):
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc) or type(exc).__name__) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(str(exc)) from exc
        except (OSError, RuntimeError) as exc:
            # RuntimeError: asyncio's "unable to perform operation on a closed transport".
            raise httpcore.WriteError(str(exc) or type(exc).__name__) from exc

    async def aclose(self) -> None:
        if self._writer.get_extra_info("ssl_object") is not None:
            # As httpcore's own backend does: no TLS close_notify exchange, whose wait would
            # keep the socket open after the pass.
            self._writer.transport.abort()
        else:
            self._writer.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except TimeoutError as exc:
            self._writer.close()
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except (OSError, ssl.SSLError) as exc:
            self._writer.close()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # An idle keep-alive connection that has something to read was closed (or spoken
            # into) by the server: the pool drops it rather than send a request on it.
            return self._reader.at_eof() or _readable(self._writer.get_extra_info("socket"))
        name = {
            "ssl_object": "ssl_object",
            "client_addr": "sockname",
            "server_addr": "peername",
            "socket": "socket",
        }.get(info)
        return None if name is None else self._writer.get_extra_info(name)


def _readable(sock: socket.socket | None) -> bool:
    if sock is None or sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))
