"""Fetching against a real server on 127.0.0.1: validators, limits, redirects, timeouts."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any, TypeVar

import pytest

from actwatch import __version__
from actwatch.config import Config
from actwatch.demo.samples.server import FeedServer
from actwatch.feeds.http import FetchLimits, FetchRequest, FetchResult, fetch, make_client
from tests.conftest import DATA
from tests.feeds.conftest import FEEDS, _send

T = TypeVar("T")


def run_fetch(config: Config, request: FetchRequest) -> FetchResult:
    async def go() -> FetchResult:
        async with make_client(config) as client:
            return await fetch(client, request, FetchLimits.from_config(config))

    return asyncio.run(go())


@pytest.fixture
def config(make_config: Callable[..., Config]) -> Config:
    return make_config([])


def test_user_agent_names_the_product_and_a_contact(
    feed_server: FeedServer, config: Config
) -> None:
    run_fetch(config, FetchRequest(feed_server.url("/communitycare.rss")))
    agent = feed_server.requests_for("/communitycare.rss")[0].headers["user-agent"]
    assert agent.startswith(f"actwatch/{__version__} ")
    assert "editor@actwatch.example.org" in agent


def test_gzip_body_is_decoded_and_validators_kept(feed_server: FeedServer, config: Config) -> None:
    result = run_fetch(config, FetchRequest(feed_server.url("/communitycare.rss")))
    assert result.outcome == "ok"
    assert result.body == (FEEDS / "communitycare.rss").read_bytes()
    assert (
        feed_server.requests_for("/communitycare.rss")[0].headers["accept-encoding"]
        == "gzip, deflate"
    )
    assert result.etag and result.last_modified
    assert result.content_type == "application/rss+xml; charset=utf-8"


def test_conditional_get_with_etag_or_last_modified_is_a_304(
    feed_server: FeedServer, config: Config
) -> None:
    url = feed_server.url("/gov-uk-dfe.atom")
    first = run_fetch(config, FetchRequest(url))
    by_etag = run_fetch(config, FetchRequest(url, etag=first.etag))
    by_date = run_fetch(config, FetchRequest(url, last_modified=first.last_modified))
    assert by_etag.outcome == by_date.outcome == "not_modified"
    assert by_etag.body is None
    feed_server.put("/gov-uk-dfe.atom", b"<feed/>")
    assert run_fetch(config, FetchRequest(url, etag=first.etag)).outcome == "ok"


def test_size_cap_holds_for_declared_streamed_and_decompressed_bodies(
    feed_server: FeedServer, config: Config
) -> None:
    for path, words in (
        ("/oversized", "over the 1,000,000 byte limit"),
        ("/endless", "over the 1,000,000 byte limit"),
        ("/gzip-bomb", "once decompressed"),
    ):
        result = run_fetch(config, FetchRequest(feed_server.url(path)))
        assert result.outcome == "error"
        assert result.error is not None and words in result.error, path


def test_redirect_loop_and_too_many_redirects_are_named(
    feed_server: FeedServer, config: Config
) -> None:
    loop = run_fetch(config, FetchRequest(feed_server.url("/loop-a")))
    assert loop.error is not None and loop.error.startswith("redirect loop: ")
    assert loop.error.endswith("/loop-b -> " + feed_server.url("/loop-a"))
    for hop in range(5):

        def redirect(handler: Any, n: int = hop) -> None:
            _send(handler, 302, b"", "text/plain", {"Location": f"/hop{n + 1}"})

        feed_server.routes[f"/hop{hop}"] = redirect
    chain = run_fetch(config, FetchRequest(feed_server.url("/hop0")))
    assert chain.error == "too many redirects (more than 3)"


def test_permanent_redirect_reports_the_new_url(feed_server: FeedServer, config: Config) -> None:
    feed_server.routes["/old"] = lambda h: _send(h, 301, b"", "text/plain", {"Location": "/moved"})
    feed_server.routes["/moved"] = lambda h: _send(
        h, 308, b"", "text/plain", {"Location": "/communitycare.rss"}
    )
    result = run_fetch(config, FetchRequest(feed_server.url("/old")))
    assert result.outcome == "ok"
    assert result.permanent_url == feed_server.url("/communitycare.rss")
    feed_server.routes["/temp"] = lambda h: _send(h, 302, b"", "text/plain", {"Location": "/old"})
    assert run_fetch(config, FetchRequest(feed_server.url("/temp"))).permanent_url is None


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [({"Retry-After": "120"}, 120.0), ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0)],
)
def test_retry_after_is_read(
    feed_server: FeedServer, config: Config, headers: dict[str, str], retry_after: float
) -> None:
    feed_server.routes["/busy"] = lambda h: _send(h, 503, b"busy", "text/plain", headers)
    result = run_fetch(config, FetchRequest(feed_server.url("/busy")))
    assert result.error == "HTTP 503 Service Unavailable: the server failed"
    assert result.retry_after == retry_after


def test_cache_control_max_age_is_read(feed_server: FeedServer, config: Config) -> None:
    body = (FEEDS / "communitycare.rss").read_bytes()
    feed_server.routes["/cached"] = lambda h: _send(
        h, 200, body, headers={"Cache-Control": "public, max-age=1800"}
    )
    feed_server.routes["/nocache"] = lambda h: _send(
        h, 200, body, headers={"Cache-Control": "no-cache, max-age=1800"}
    )
    assert run_fetch(config, FetchRequest(feed_server.url("/cached"))).max_age == 1800
    assert run_fetch(config, FetchRequest(feed_server.url("/nocache"))).max_age is None


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/slow", "the server sent nothing for 1s (read timeout)"),
        ("/trickle", "gave up after the 3s deadline"),
        ("/404", "HTTP 404 Not Found: no feed at this URL"),
        ("/500", "HTTP 500 Internal Server Error: the server failed"),
    ],
)
def test_failures_are_readable(
    feed_server: FeedServer, config: Config, path: str, error: str
) -> None:
    result = run_fetch(config, FetchRequest(feed_server.url(path)))
    assert result.outcome == "error"
    assert result.error == error
    assert result.seconds < 3.5


def test_gone_is_flagged(feed_server: FeedServer, config: Config) -> None:
    result = run_fetch(config, FetchRequest(feed_server.url("/410")))
    assert result.gone and result.error is not None and "410 Gone" in result.error


def test_connection_refused_is_readable(config: Config) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_fetch(config, FetchRequest(f"http://127.0.0.1:{port}/feed"))
    assert result.error is not None and result.error.startswith("cannot connect: ")


def test_one_client_reuses_connections(feed_server: FeedServer, config: Config) -> None:
    async def go() -> list[Any]:
        async with make_client(config) as client:
            limits = FetchLimits.from_config(config)
            results = []
            for _ in range(3):
                results.append(
                    await fetch(client, FetchRequest(feed_server.url("/whatworks.rdf")), limits)
                )
            return results

    results, ports = _connections_during(lambda: asyncio.run(go()))
    assert all(result.outcome == "ok" for result in results)
    assert len(ports) == 1, "three fetches should share one keep-alive connection"


def _connections_during(go: Callable[[], T]) -> tuple[T, set[int]]:
    """Run `go` and return what it returned with the client ports the server saw."""
    ports: set[int] = set()
    original = FeedServer.process_request

    def spy(self: FeedServer, request: Any, client_address: Any) -> None:
        ports.add(client_address[1])
        original(self, request, client_address)

    FeedServer.process_request = spy  # type: ignore[method-assign,assignment]
    try:
        return go(), ports
    finally:
        FeedServer.process_request = original  # type: ignore[method-assign]


def test_304s_and_redirects_keep_the_connection(feed_server: FeedServer, config: Config) -> None:
    """A 304 has no body and a redirect a short one: the connection carries the next request."""
    url = feed_server.url("/gov-uk-dfe.atom")
    feed_server.routes["/moved"] = _redirect_route(url)
    first = run_fetch(config, FetchRequest(url))

    async def go() -> list[FetchResult]:
        async with make_client(config) as client:
            limits = FetchLimits.from_config(config)
            return [
                await fetch(client, FetchRequest(address, etag=first.etag), limits)
                for address in (url, url, feed_server.url("/moved"), url)
            ]

    results, ports = _connections_during(lambda: asyncio.run(go()))
    assert [result.outcome for result in results] == ["not_modified"] * 4
    assert len(ports) == 1, "the 304s and the redirect should share one keep-alive connection"


def _redirect_route(target: str) -> Callable[[BaseHTTPRequestHandler], None]:
    def route(handler: BaseHTTPRequestHandler) -> None:
        _send(handler, 302, b"moved", "text/plain", {"Location": target})

    return route


TLS = DATA / "tls"


@pytest.fixture
def tls_server(feed_server: FeedServer) -> FeedServer:
    """The feed server behind TLS, with a certificate for 127.0.0.1 that only SSL_CERT_FILE
    makes trusted."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(TLS / "localhost.pem", TLS / "localhost.key")
    feed_server.socket = context.wrap_socket(feed_server.socket, server_side=True)
    return feed_server


def test_https_is_fetched_with_the_certificate_checked(
    tls_server: FeedServer, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = tls_server.server_address[1]
    url = f"https://127.0.0.1:{port}/communitycare.rss"
    untrusted = run_fetch(config, FetchRequest(url))
    assert untrusted.outcome == "error"
    assert untrusted.error is not None and "CERTIFICATE_VERIFY_FAILED" in untrusted.error

    monkeypatch.setenv("SSL_CERT_FILE", str(TLS / "localhost.pem"))

    async def go() -> list[FetchResult]:
        async with make_client(config) as client:
            limits = FetchLimits.from_config(config)
            first = await fetch(client, FetchRequest(url), limits)
            again = await fetch(client, FetchRequest(url, etag=first.etag), limits)
            return [first, again]

    (first, again), ports = _connections_during(lambda: asyncio.run(go()))
    assert first.outcome == "ok", first.error
    assert first.body == (FEEDS / "communitycare.rss").read_bytes()
    assert again.outcome == "not_modified"
    assert len(ports) == 1
