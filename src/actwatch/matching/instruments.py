"""The text of a commencement instrument on legislation.gov.uk: fetched politely, kept forever.

Optional (`matching.fetch_instruments`): without it the dates come from the feed's summary. A
fetched document is stored in `instrument_texts`, so a reclassify never needs the network; a
404 is remembered for a week, a network failure not at all (the next pass tries again).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import Connection, delete, insert, select

from actwatch.config import Config
from actwatch.db.schema import instrument_texts
from actwatch.matching.classify import LEGISLATION_HOSTS

if TYPE_CHECKING:
    # httpx is imported when a fetcher is made: reading cached instruments never needs it.
    import httpx

log = logging.getLogger(__name__)

_INSTRUMENT = re.compile(r"^/(?:id/)?(uksi|ukdsi|ssi|sdsi|wsi|nisr)/(\d{4})/(\d+)(?:/|$)")
MISSING_RETRY = timedelta(days=7)
MAX_BYTES = 5_000_000


def instrument_url(link: str, allowed_hosts: Iterable[str] = LEGISLATION_HOSTS) -> str | None:
    """The "as made" XML of the instrument a link points at, or None if it is not one."""
    parts = urlsplit(link)
    host = parts.hostname or ""
    match = _INSTRUMENT.match(parts.path)
    if host not in set(allowed_hosts) or not match:
        return None
    netloc = "www.legislation.gov.uk" if host in LEGISLATION_HOSTS else parts.netloc
    scheme = "https" if host in LEGISLATION_HOSTS else parts.scheme
    kind, year, number = match.groups()
    return f"{scheme}://{netloc}/{kind}/{year}/{number}/made/data.xml"


@dataclass
class InstrumentFetcher:
    """Fetches instruments one at a time with a pause between requests (fair use: 3,000 per
    5 minutes is the limit; we stay far below it) and at most `limit` per pass."""

    client: httpx.Client
    allowed_hosts: frozenset[str] = LEGISLATION_HOSTS
    delay: float = 1.0
    limit: int = 25
    fetched: int = 0
    errors: int = 0
    _last: float = 0.0

    @classmethod
    def from_config(cls, config: Config, **options: object) -> InstrumentFetcher:
        import httpx

        from actwatch.feeds.http import user_agent

        client = httpx.Client(
            headers={"User-Agent": user_agent(config), "Accept": "application/xml, text/xml"},
            timeout=httpx.Timeout(
                config.fetch.read_timeout.total_seconds(),
                connect=config.fetch.connect_timeout.total_seconds(),
            ),
            follow_redirects=True,
            max_redirects=config.fetch.max_redirects,
        )
        return cls(client, **options)  # type: ignore[arg-type]

    def close(self) -> None:
        self.client.close()

    def get(self, connection: Connection, url: str, now: datetime) -> str | None:
        """The document at url from the cache, or fetched now (and cached) if allowed."""
        row = connection.execute(
            select(instrument_texts).where(instrument_texts.c.url == url)
        ).first()
        if row is not None:
            if row.status == 200:
                return str(row.body) if row.body is not None else None
            if row.fetched_at > now - MISSING_RETRY:
                return None
        host = urlsplit(url).hostname or ""
        # After a network failure the rest of the pass does without (the server may be down).
        if host not in self.allowed_hosts or self.errors or self.fetched >= self.limit:
            return None
        status, body = self._download(url)
        if status is None:
            return None
        connection.execute(delete(instrument_texts).where(instrument_texts.c.url == url))
        connection.execute(
            insert(instrument_texts).values(url=url, fetched_at=now, status=status, body=body)
        )
        return body

    def _download(self, url: str) -> tuple[int | None, str | None]:
        import httpx

        wait = self._last + self.delay - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            with self.client.stream("GET", url) as response:
                self._last = time.monotonic()
                if response.status_code != 200:
                    self.fetched += 1
                    log.info("instrument %s: HTTP %s", url, response.status_code)
                    return response.status_code, None
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > MAX_BYTES:
                        raise httpx.HTTPError(f"larger than {MAX_BYTES} bytes")
                    chunks.append(chunk)
                self.fetched += 1
                return 200, b"".join(chunks).decode(response.encoding or "utf-8", "replace")
        except httpx.HTTPError as exc:
            self._last = time.monotonic()
            self.errors += 1
            log.warning("instrument %s: %s", url, exc)
            return None, None


def cached_texts(connection: Connection, urls: Iterable[str]) -> dict[str, str]:
    """The stored documents among these, by url (those never fetched or missing are not in it)."""
    found: dict[str, str] = {}
    wanted = sorted(set(urls))
    for start in range(0, len(wanted), 500):
        for url, body in connection.execute(
            select(instrument_texts.c.url, instrument_texts.c.body).where(
                instrument_texts.c.url.in_(wanted[start : start + 500]),
                instrument_texts.c.status == 200,
                instrument_texts.c.body.is_not(None),
            )
        ):
            found[url] = str(body)
    return found


def now_utc() -> datetime:
    return datetime.now(UTC)
