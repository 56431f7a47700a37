"""Feed rows and items in the database: config sync, per-feed state, exactly-once items.

An item is a story (unique canonical link); `item_sources` says which feeds carried it. An entry
is recognised as one already stored by its canonical link, then by the feed's own guid for it,
then by its content hash; a recognised entry whose words changed updates the item and records
the change, at most once per `CHANGE_COOLDOWN` and `MAX_RECORDED_CHANGES` times in all, so a
feed that rewrites its entries on every fetch cannot churn the database or the classifier.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, select, update

from actwatch.config import Config
from actwatch.core.states import FeedStatus
from actwatch.db.schema import feeds, item_changes, item_sources, items
from actwatch.feeds.parse import ParsedEntry

CHANGE_COOLDOWN = timedelta(hours=1)
MAX_RECORDED_CHANGES = 20
# A content hash is a weak identity when the entry has only a title: two different
# "Weekly roundup" entries are not one story.
MIN_TEXT_FOR_HASH_IDENTITY = 40
IN_CHUNK = 500
CONFIG_DISABLED = "disabled in the config"
NOT_IN_CONFIG = "no longer in the config"


@dataclass(slots=True)
class FeedRow:
    id: int
    name: str
    url: str
    fetch_url: str
    enabled: bool
    status: str
    etag: str | None
    last_modified: str | None
    consecutive_failures: int
    next_fetch_at: datetime | None
    items_seen: int


@dataclass(slots=True)
class FeedSync:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)


@dataclass(slots=True)
class StoreResult:
    new_ids: list[int] = field(default_factory=list)
    changed_ids: list[int] = field(default_factory=list)
    deferred_changes: int = 0
    duplicates: int = 0
    items_seen: int = 0


def sync_feeds(engine: Engine, config: Config, *, now: datetime | None = None) -> FeedSync:
    """Create or update the feed rows from the config (idempotent); see `sync_feed_rows`."""
    with engine.begin() as connection:
        return sync_feed_rows(connection, config, now=now or datetime.now(UTC))


def sync_feed_rows(connection: Connection, config: Config, *, now: datetime) -> FeedSync:
    """Make the feeds table agree with the config; idempotent.

    A feed dropped from the config keeps its row (its items still cite it) but is disabled.
    A changed URL starts the feed afresh: new fetch URL, no validators, no back-off, enabled.
    """
    result = FeedSync()
    stored = {row.name: row for row in connection.execute(select(feeds))}
    for feed in config.feeds:
        row = stored.get(feed.name)
        if row is None:
            connection.execute(
                feeds.insert().values(
                    name=feed.name,
                    url=feed.url,
                    fetch_url=feed.url,
                    enabled=feed.enabled,
                    disabled_reason=None if feed.enabled else CONFIG_DISABLED,
                    status="new" if feed.enabled else "disabled",
                    consecutive_failures=0,
                    items_seen=0,
                    created_at=now,
                )
            )
            result.added.append(feed.name)
            continue
        changes: dict[str, Any] = {}
        if row.url != feed.url:
            changes.update(
                url=feed.url,
                fetch_url=feed.url,
                etag=None,
                last_modified=None,
                consecutive_failures=0,
                next_fetch_at=None,
                error=None,
                warning=None,
                status="new",
                enabled=True,
                disabled_reason=None,
            )
        if not feed.enabled and (row.enabled or changes.get("enabled")):
            changes.update(enabled=False, disabled_reason=CONFIG_DISABLED, status="disabled")
        elif (
            feed.enabled
            and not row.enabled
            and row.disabled_reason
            in (
                CONFIG_DISABLED,
                NOT_IN_CONFIG,
            )
        ):
            changes.update(enabled=True, disabled_reason=None, status="new", next_fetch_at=None)
        if changes:
            connection.execute(update(feeds).where(feeds.c.id == row.id).values(**changes))
            result.updated.append(feed.name)
    configured = {feed.name for feed in config.feeds}
    for name, row in stored.items():
        if name not in configured and row.enabled:
            connection.execute(
                update(feeds)
                .where(feeds.c.id == row.id)
                .values(enabled=False, disabled_reason=NOT_IN_CONFIG, status="disabled")
            )
            result.disabled.append(name)
    return result


def enable_feed(engine: Engine, name: str) -> bool:
    """Re-enable a feed the poller disabled (a 410) and clear its back-off."""
    with engine.begin() as connection:
        return _enable_feed(connection, name)


def _enable_feed(connection: Connection, name: str) -> bool:
    changed = connection.execute(
        update(feeds)
        .where(feeds.c.name == name)
        .values(
            enabled=True,
            disabled_reason=None,
            status="new",
            consecutive_failures=0,
            next_fetch_at=None,
            error=None,
        )
    )
    return bool(changed.rowcount)


def load_feed_rows(connection: Connection) -> dict[str, FeedRow]:
    columns = [feeds.c[name] for name in FeedRow.__slots__]
    return {
        row.name: FeedRow(**row._mapping)
        for row in connection.execute(select(*columns).order_by(feeds.c.id))
    }


def record_not_modified(connection: Connection, updates: Sequence[dict[str, Any]]) -> None:
    """Many 304s in one statement: each dict has feed_id, now, next_fetch_at and, when the
    server sent them, etag, last_modified and a permanently redirected fetch_url."""
    if not updates:
        return
    keep = {"etag": feeds.c.etag, "last_modified": feeds.c.last_modified}
    keep["fetch_url"] = feeds.c.fetch_url
    statement = (
        update(feeds)
        .where(feeds.c.id == bindparam("b_feed_id"))
        .values(
            status="not_modified",
            error=None,
            consecutive_failures=0,
            last_fetched_at=bindparam("b_now", type_=feeds.c.last_fetched_at.type),
            last_ok_at=bindparam("b_now", type_=feeds.c.last_ok_at.type),
            next_fetch_at=bindparam("b_next", type_=feeds.c.next_fetch_at.type),
            **{
                name: func.coalesce(bindparam(f"b_{name}", type_=column.type), column)
                for name, column in keep.items()
            },
        )
    )
    connection.execute(
        statement,
        [
            {
                "b_feed_id": entry["feed_id"],
                "b_now": entry["now"],
                "b_next": entry["next_fetch_at"],
                **{f"b_{name}": entry.get(name) for name in keep},
            }
            for entry in updates
        ],
    )


def record_failure(
    connection: Connection,
    feed_id: int,
    *,
    now: datetime,
    error: str,
    failures: int,
    next_fetch_at: datetime | None,
    disable_reason: str | None = None,
) -> None:
    values: dict[str, Any] = {
        "status": "error",
        "error": error,
        "consecutive_failures": failures,
        "last_fetched_at": now,
        "next_fetch_at": next_fetch_at,
    }
    if disable_reason:
        values.update(enabled=False, disabled_reason=disable_reason, status="disabled")
    connection.execute(update(feeds).where(feeds.c.id == feed_id).values(**values))


def record_success(
    connection: Connection,
    feed_id: int,
    *,
    now: datetime,
    next_fetch_at: datetime,
    etag: str | None,
    last_modified: str | None,
    fetch_url: str | None,
    title: str | None,
    warning: str | None,
    items_seen: int,
) -> None:
    values: dict[str, Any] = {
        "status": "ok",
        "error": None,
        "warning": warning,
        "consecutive_failures": 0,
        "last_fetched_at": now,
        "last_ok_at": now,
        "next_fetch_at": next_fetch_at,
        "etag": etag,
        "last_modified": last_modified,
        "items_seen": items_seen,
    }
    if fetch_url:
        values["fetch_url"] = fetch_url
    if title:
        values["feed_title"] = title
    connection.execute(update(feeds).where(feeds.c.id == feed_id).values(**values))


_ITEM_COLUMNS = (
    items.c.id,
    items.c.canonical_link,
    items.c.title,
    items.c.type_hint,
    items.c.summary,
    items.c.content_html,
    items.c.updated_at,
    items.c.change_count,
    items.c.last_changed_at,
)


def store_entries(
    connection: Connection, feed_id: int, entries: Iterable[ParsedEntry], now: datetime
) -> StoreResult:
    """Store one feed's entries: new stories inserted, sightings recorded, changes applied."""
    result = StoreResult()
    unique = _unique_entries(entries, result)
    known = _items_by_link(connection, [entry.canonical_link for entry in unique])
    sources = connection.execute(
        select(
            item_sources.c.id,
            item_sources.c.item_id,
            item_sources.c.guid,
            item_sources.c.content_hash,
            item_sources.c.link,
        ).where(item_sources.c.feed_id == feed_id)
    ).all()
    by_item = {source.item_id: source for source in sources}
    by_guid = {source.guid: source for source in sources if source.guid}
    by_hash = {source.content_hash: source for source in sources}

    # Entries matched through their guid or hash whose link moved: their items are not in
    # `known` yet.
    moved: list[int] = []
    for entry in unique:
        if entry.canonical_link not in known:
            source = _source_by_identity(entry, by_guid, by_hash)
            if source is not None:
                moved.append(source.item_id)
    known_by_id = {row.id: row for row in known.values()}
    if moved:
        for row in _items_by_ids(connection, moved):
            known_by_id[row.id] = row

    new_items: list[ParsedEntry] = []
    new_sources: list[tuple[ParsedEntry, int]] = []
    seen_sources: list[int] = []
    claimed: set[int] = set()
    for entry in unique:
        item = known.get(entry.canonical_link)
        if item is not None:
            source = by_item.get(item.id)
        else:
            source = _source_by_identity(entry, by_guid, by_hash)
            item = known_by_id.get(source.item_id) if source is not None else None
        if item is None:
            new_items.append(entry)
            continue
        if item.id in claimed:
            result.duplicates += 1
            continue
        claimed.add(item.id)
        if source is None:
            new_sources.append((entry, item.id))
            _fill_blanks(connection, item, entry)
        elif (
            source.content_hash == entry.content_hash
            and item.canonical_link == entry.canonical_link
        ):
            seen_sources.append(source.id)
        elif _apply_change(connection, feed_id, item, source.id, entry, now):
            result.changed_ids.append(item.id)
        else:
            result.deferred_changes += 1
            seen_sources.append(source.id)

    if new_items:
        # A plain executemany and one read back: RETURNING with ordered rows makes SQLAlchemy
        # insert one row per statement on SQLite.
        connection.execute(items.insert(), [_item_values(entry, now) for entry in new_items])
        ids = {
            link: item_id
            for link, item_id in _ids_by_link(
                connection, [entry.canonical_link for entry in new_items]
            )
        }
        inserted = [ids[entry.canonical_link] for entry in new_items]
        result.new_ids.extend(inserted)
        new_sources.extend(zip(new_items, inserted, strict=True))
    if new_sources:
        connection.execute(
            item_sources.insert(),
            [
                {
                    "item_id": item_id,
                    "feed_id": feed_id,
                    "guid": entry.guid,
                    "link": entry.link,
                    "content_hash": entry.content_hash,
                    "first_seen_at": now,
                    "last_seen_at": now,
                }
                for entry, item_id in new_sources
            ],
        )
    if seen_sources:
        connection.execute(
            update(item_sources)
            .where(item_sources.c.id == bindparam("source_id"))
            .values(last_seen_at=now),
            [{"source_id": source_id} for source_id in seen_sources],
        )
    result.items_seen = len(sources) + len(new_sources)
    return result


def _unique_entries(entries: Iterable[ParsedEntry], result: StoreResult) -> list[ParsedEntry]:
    """One entry per story inside this document: first by link, then guid, then content."""
    unique: list[ParsedEntry] = []
    links: set[str] = set()
    guids: set[str] = set()
    hashes: set[str] = set()
    for entry in entries:
        strong_hash = _hash_identifies(entry)
        if (
            entry.canonical_link in links
            or (entry.guid is not None and entry.guid in guids)
            or (strong_hash and entry.content_hash in hashes)
        ):
            result.duplicates += 1
            continue
        links.add(entry.canonical_link)
        if entry.guid is not None:
            guids.add(entry.guid)
        if strong_hash:
            hashes.add(entry.content_hash)
        unique.append(entry)
    return unique


def _hash_identifies(entry: ParsedEntry) -> bool:
    return len(entry.summary) + len(entry.content_html or "") >= MIN_TEXT_FOR_HASH_IDENTITY


def _source_by_identity(
    entry: ParsedEntry, by_guid: dict[str, Any], by_hash: dict[str, Any]
) -> Any:
    if entry.guid is not None and entry.guid in by_guid:
        return by_guid[entry.guid]
    if _hash_identifies(entry):
        return by_hash.get(entry.content_hash)
    return None


def _items_by_link(connection: Connection, links: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for start in range(0, len(links), IN_CHUNK):
        chunk = links[start : start + IN_CHUNK]
        for row in connection.execute(
            select(*_ITEM_COLUMNS).where(items.c.canonical_link.in_(chunk))
        ):
            found[row.canonical_link] = row
    return found


def _ids_by_link(connection: Connection, links: list[str]) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for start in range(0, len(links), IN_CHUNK):
        chunk = links[start : start + IN_CHUNK]
        rows = connection.execute(
            select(items.c.canonical_link, items.c.id).where(items.c.canonical_link.in_(chunk))
        )
        found.extend((link, item_id) for link, item_id in rows)
    return found


def _items_by_ids(connection: Connection, ids: list[int]) -> list[Any]:
    rows: list[Any] = []
    for start in range(0, len(ids), IN_CHUNK):
        chunk = ids[start : start + IN_CHUNK]
        rows.extend(connection.execute(select(*_ITEM_COLUMNS).where(items.c.id.in_(chunk))))
    return rows


def _item_values(entry: ParsedEntry, now: datetime) -> dict[str, Any]:
    return {
        "canonical_link": entry.canonical_link,
        "title": entry.title,
        "type_hint": entry.type_hint,
        "summary": entry.summary,
        "content_html": entry.content_html,
        # A feed that gives no date: the story is dated when we first saw it.
        "published_at": entry.published or now,
        "updated_at": entry.updated,
        "first_seen_at": now,
        "content_hash": entry.content_hash,
        "source_meta": entry.source_meta,
        "change_count": 0,
        "manual": False,
    }


def _fill_blanks(connection: Connection, item: Any, entry: ParsedEntry) -> None:
    """A second source may know what the first did not (GOV.UK search feeds omit summaries)."""
    values: dict[str, Any] = {}
    if not item.summary and entry.summary:
        values["summary"] = entry.summary
    if item.content_html is None and entry.content_html:
        values["content_html"] = entry.content_html
    if item.type_hint is None and entry.type_hint:
        values["type_hint"] = entry.type_hint
    if values:
        connection.execute(update(items).where(items.c.id == item.id).values(**values))


def _apply_change(
    connection: Connection,
    feed_id: int,
    item: Any,
    source_id: int,
    entry: ParsedEntry,
    now: datetime,
) -> bool:
    if item.change_count >= MAX_RECORDED_CHANGES:
        return False
    if item.last_changed_at is not None and now - item.last_changed_at < CHANGE_COOLDOWN:
        return False
    diff: dict[str, list[Any]] = {}
    for name, old, new in (
        ("title", item.title, entry.title),
        ("type_hint", item.type_hint, entry.type_hint),
        ("summary", item.summary, entry.summary),
        ("canonical_link", item.canonical_link, entry.canonical_link),
    ):
        if old != new:
            diff[name] = [old, new]
    if (item.content_html or None) != entry.content_html:
        # Bodies can be long: the change log notes their sizes, the item keeps the new one.
        diff["content_html"] = [len(item.content_html or ""), len(entry.content_html or "")]
    if entry.updated is not None and entry.updated != item.updated_at:
        diff["updated_at"] = [
            item.updated_at.isoformat() if item.updated_at else None,
            entry.updated.isoformat(),
        ]
    values: dict[str, Any] = {
        "title": entry.title,
        "type_hint": entry.type_hint,
        "summary": entry.summary,
        "content_html": entry.content_html,
        "canonical_link": entry.canonical_link,
        "content_hash": entry.content_hash,
        "source_meta": entry.source_meta,
        "change_count": item.change_count + 1,
        "last_changed_at": now,
    }
    if entry.updated is not None:
        values["updated_at"] = entry.updated
    connection.execute(update(items).where(items.c.id == item.id).values(**values))
    connection.execute(
        item_changes.insert().values(item_id=item.id, feed_id=feed_id, changed_at=now, changes=diff)
    )
    connection.execute(
        update(item_sources)
        .where(item_sources.c.id == source_id)
        .values(content_hash=entry.content_hash, guid=entry.guid, link=entry.link, last_seen_at=now)
    )
    return True


# Reading feeds and items for the listings (`actwatch feeds`, `actwatch items`, the editor's
# warnings and `actwatch status`).


@dataclass(frozen=True)
class FeedState:
    """A feed as `actwatch feeds` and the editor's pages show it."""

    name: str
    url: str
    fetch_url: str
    status: str  # "disabled" for a disabled feed, whatever its last fetch said
    error: str | None
    warning: str | None
    items: int
    last_fetched_at: datetime | None
    last_ok_at: datetime | None
    next_fetch_at: datetime | None
    failures: int
    enabled: bool
    title: str | None
    id: int


def list_feeds(engine: Engine) -> list[FeedState]:
    with engine.connect() as connection:
        rows = connection.execute(select(feeds).order_by(feeds.c.id)).all()
    return [
        FeedState(
            name=row.name,
            url=row.url,
            fetch_url=row.fetch_url,
            status=row.status if row.enabled else "disabled",
            error=row.error or (row.disabled_reason if not row.enabled else None),
            warning=row.warning,
            items=row.items_seen,
            last_fetched_at=row.last_fetched_at,
            last_ok_at=row.last_ok_at,
            next_fetch_at=row.next_fetch_at,
            failures=row.consecutive_failures,
            enabled=row.enabled,
            title=row.feed_title,
            id=row.id,
        )
        for row in rows
    ]


def failing_feeds(engine: Engine) -> list[FeedState]:
    """Enabled feeds whose last fetch failed or that carry an error, by name."""
    return sorted(
        (
            feed
            for feed in list_feeds(engine)
            if feed.enabled and (feed.status == "error" or feed.error is not None)
        ),
        key=lambda feed: feed.name,
    )


def count_feeds(engine: Engine) -> dict[str, int]:
    """Feeds by the outcome of their last fetch; a disabled feed counts as `disabled`."""
    counts = {status.value: 0 for status in FeedStatus}
    with engine.connect() as connection:
        for status, enabled, count in connection.execute(
            select(feeds.c.status, feeds.c.enabled, func.count()).group_by(
                feeds.c.status, feeds.c.enabled
            )
        ):
            key = status if enabled else FeedStatus.DISABLED.value
            counts[key] = counts.get(key, 0) + int(count)
    return counts


def count_items(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(items)).scalar_one())


@dataclass(frozen=True)
class StoredStory:
    """An item as the listings show it, with the feeds that carried it (first seen first)."""

    id: int
    title: str
    link: str
    type_hint: str | None
    summary: str
    published_at: datetime
    updated_at: datetime | None
    first_seen_at: datetime
    source_meta: dict[str, Any]
    sources: list[str]


def list_items(
    engine: Engine, *, since: datetime | None = None, limit: int | None = None
) -> list[StoredStory]:
    """Stored items, newest first."""
    query = select(
        items.c.id,
        items.c.title,
        items.c.canonical_link,
        items.c.type_hint,
        items.c.summary,
        items.c.published_at,
        items.c.updated_at,
        items.c.first_seen_at,
        items.c.source_meta,
    ).order_by(items.c.published_at.desc(), items.c.id.desc())
    if since is not None:
        query = query.where(items.c.published_at >= since)
    if limit is not None:
        query = query.limit(limit)
    sources: dict[int, list[str]] = {}
    with engine.connect() as connection:
        rows = connection.execute(query).all()
        ids = [row.id for row in rows]
        for start in range(0, len(ids), IN_CHUNK):
            for item_id, name in connection.execute(
                select(item_sources.c.item_id, feeds.c.name)
                .join(feeds, feeds.c.id == item_sources.c.feed_id)
                .where(item_sources.c.item_id.in_(ids[start : start + IN_CHUNK]))
                .order_by(item_sources.c.first_seen_at, item_sources.c.id)
            ):
                sources.setdefault(item_id, []).append(name)
    return [
        StoredStory(
            id=row.id,
            title=row.title,
            link=row.canonical_link,
            type_hint=row.type_hint,
            summary=row.summary,
            published_at=row.published_at,
            updated_at=row.updated_at,
            first_seen_at=row.first_seen_at,
            source_meta=row.source_meta,
            sources=sources.get(row.id, []),
        )
        for row in rows
    ]
