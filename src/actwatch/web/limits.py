"""Who is asking, and how often they may: the client's address (believing `X-Forwarded-For`
only from the proxies the operator trusts), rate limits for the public forms, and the body size
limit every request is held to.

Everything here lives in memory and stays bounded however many clients a burst brings: each
limiter remembers at most `max_keys` keys (the least recently seen are forgotten first) and at
most `limit` times per key.
"""

from __future__ import annotations

import hashlib
import ipaddress
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_KEYS = 10_000
PUBLIC_BODY_LIMIT = 64 * 1024
EDITOR_BODY_LIMIT = 1024 * 1024


def trusted_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def client_address(scope: Scope, trusted: tuple[Network, ...]) -> str:
    """The address of the client as the last proxy we trust saw it.

    `X-Forwarded-For` is a list each proxy appends its peer to; anyone can write the left part.
    So it is read from the right, and only while the hop that wrote an entry is trusted: the
    first address not in `trusted` is the client. Without a trusted peer the header is ignored.
    """
    client = scope.get("client")
    peer = client[0] if client else "unknown"
    if not _is_trusted(peer, trusted):
        return peer
    forwarded: list[str] = []
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            forwarded.extend(part.strip() for part in value.decode("latin-1").split(","))
    address = peer
    for hop in reversed([part for part in forwarded if part]):
        address = hop[:64]
        if not _is_trusted(hop, trusted):
            break
    return address


def _is_trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def digest(text: str) -> str:
    """A key that names an email address without keeping it in memory."""
    return hashlib.sha256(text.strip().lower().encode("utf-8")).hexdigest()[:32]


class RateLimiter:
    """At most `limit` hits per key in any `window` seconds (a sliding window)."""

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self.clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        """Count one hit: None if allowed, else the seconds until the key may try again."""
        now = self.clock()
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                hits = self._hits[key] = deque(maxlen=self.limit)
                while len(self._hits) > self.max_keys:
                    self._hits.popitem(last=False)
            else:
                self._hits.move_to_end(key)
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(hits[0] + self.window - now, 0.001)
            hits.append(now)
            return None

    def __len__(self) -> int:
        return len(self._hits)


@dataclass(frozen=True)
class FormLimit:
    """How often one client, and one email address, may submit a form."""

    per_client: int
    per_address: int
    window: float


class FormLimits:
    """A limiter per form and kind of key."""

    def __init__(self, limits: dict[str, FormLimit]) -> None:
        self._clients = {
            form: RateLimiter(limit.per_client, limit.window) for form, limit in limits.items()
        }
        self._addresses = {
            form: RateLimiter(limit.per_address, limit.window) for form, limit in limits.items()
        }

    def client(self, form: str, address: str) -> float | None:
        return self._clients[form].hit(address)

    def address(self, form: str, email: str) -> float | None:
        return self._addresses[form].hit(digest(email))


# Generous for a person, useless for a mail bomb: one client may sign up a few addresses (a
# colleague's too), and one address is offered mail a few times an hour, whoever asks.
PUBLIC_FORMS = {
    "subscribe": FormLimit(per_client=10, per_address=3, window=3600),
    "manage": FormLimit(per_client=10, per_address=3, window=3600),
    # Pages reached through a signed link: the token is the key.
    "link": FormLimit(per_client=60, per_address=20, window=3600),
}


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """Refuses a request body over the limit with 413, before reading it where the length is
    declared and as soon as the limit is passed where it is not (chunked)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        public: int = PUBLIC_BODY_LIMIT,
        editor: int = EDITOR_BODY_LIMIT,
    ) -> None:
        self.app = app
        self.public = public
        self.editor = editor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        # The login form is open to anyone: it gets the public limit.
        editor = path.startswith("/editor/") and path != "/editor/login"
        limit = self.editor if editor else self.public
        for name, value in scope.get("headers", []):
            if name == b"content-length" and (not value.isdigit() or int(value) > limit):
                await _too_large(send, limit)
                return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if not started:
                await _too_large(send, limit)


async def _too_large(send: Send, limit: int) -> None:
    body = f"Request too large: this address accepts at most {limit // 1024} KB.\n".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
