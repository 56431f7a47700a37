"""Feed rows and items in the database: config sync, per-feed state, exactly-once items.

An item is a story, stored under its identity (`core.links.canonical_link` of its link, unique);
`item_sources` says which feeds carried it and what id each gave it. How an entry is recognised
as one already stored is in `store_entries`. A recognised entry whose words changed updates the
item and records the change, at most once per `CHANGE_COOLDOWN` and `MAX_RECORDED_CHANGES` times
in all, so a feed that rewrites its entries on every fetch cannot churn the database or the
classifier. Each fetch that brought a document or failed is kept in `feed_fetches` with its own
warnings (the newest `FETCH_HISTORY` per feed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, case, delete, func, select, update

from actwatch.config import Config
from actwatch.core.links import canonical_link
from actwatch.core.states import DateSource, FeedStatus
from actwatch.db.schema import feed_fetches, feeds, item_changes, item_sources, items
from actwatch.feeds.entries import ParsedEntry

CHANGE_COOLDOWN = timedelta(hours=1)
MAX_RECORDED_CHANGES = 20
FETCH_HISTORY = 50
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
    identity: dict[str, Any]


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
    merged: dict[str, int] = field(default_factory=dict)
    """Entries recognised as one stored entry although their ids differ, or repeated, by why."""
    warnings: list[str] = field(default_factory=list)


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


def load_feed_row(connection: Connection, feed_id: int) -> FeedRow:
    columns = [feeds.c[name] for name in FeedRow.__slots__]
    return FeedRow(
        **connection.execute(select(*columns).where(feeds.c.id == feed_id)).one()._mapping
    )


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
        "last_error": error,
        "last_error_at": now,
        "consecutive_failures": failures,
        "last_fetched_at": now,
        "next_fetch_at": next_fetch_at,
    }
    if disable_reason:
        values.update(enabled=False, disabled_reason=disable_reason, status="disabled")
    connection.execute(update(feeds).where(feeds.c.id == feed_id).values(**values))
    record_fetches(connection, [fetch_row(feed_id, now=now, outcome="error", error=error)])


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
    warnings: Sequence[str],
    items_seen: int,
) -> None:
    """A fetch that parsed: the feed's state (its fetch is kept by `record_fetches`)."""
    record_successes(
        connection,
        [
            success_row(
                feed_id,
                now=now,
                next_fetch_at=next_fetch_at,
                etag=etag,
                last_modified=last_modified,
                fetch_url=fetch_url,
                title=title,
                warnings=warnings,
                items_seen=items_seen,
            )
        ],
    )


def success_row(
    feed_id: int,
    *,
    now: datetime,
    next_fetch_at: datetime,
    etag: str | None,
    last_modified: str | None,
    fetch_url: str | None,
    title: str | None,
    warnings: Sequence[str],
    items_seen: int,
) -> dict[str, Any]:
    return {
        "b_feed_id": feed_id,
        "b_now": now,
        "b_next": next_fetch_at,
        "b_etag": etag,
        "b_last_modified": last_modified,
        "b_fetch_url": fetch_url or None,
        "b_title": title or None,
        "b_warning": "; ".join(warnings) or None,
        "b_items_seen": items_seen,
    }


def record_successes(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Many fetches that parsed in one statement (`success_row` makes each row): the last
    warning is kept when a fetch has none, the fetch URL and title when the fetch gave none."""
    if not rows:
        return
    now = bindparam("b_now", type_=feeds.c.last_fetched_at.type)
    warning = bindparam("b_warning", type_=feeds.c.warning.type)
    statement = (
        update(feeds)
        .where(feeds.c.id == bindparam("b_feed_id"))
        .values(
            status=FeedStatus.OK,
            error=None,
            warning=warning,
            consecutive_failures=0,
            last_fetched_at=now,
            last_ok_at=now,
            next_fetch_at=bindparam("b_next", type_=feeds.c.next_fetch_at.type),
            etag=bindparam("b_etag", type_=feeds.c.etag.type),
            last_modified=bindparam("b_last_modified", type_=feeds.c.last_modified.type),
            items_seen=bindparam("b_items_seen", type_=feeds.c.items_seen.type),
            fetch_url=func.coalesce(
                bindparam("b_fetch_url", type_=feeds.c.fetch_url.type), feeds.c.fetch_url
            ),
            feed_title=func.coalesce(
                bindparam("b_title", type_=feeds.c.feed_title.type), feeds.c.feed_title
            ),
            last_warning=func.coalesce(warning, feeds.c.last_warning),
            last_warning_at=case((warning.is_(None), feeds.c.last_warning_at), else_=now),
        )
    )
    connection.execute(statement, list(rows))


def fetch_row(
    feed_id: int,
    *,
    now: datetime,
    outcome: str,
    error: str | None = None,
    warnings: Sequence[str] = (),
    entries: int = 0,
    stored: StoreResult | None = None,
    undated: int = 0,
) -> dict[str, Any]:
    """One fetch (not a 304) as `record_fetches` keeps it."""
    return {
        "feed_id": feed_id,
        "fetched_at": now,
        "outcome": outcome,
        "error": error,
        "warnings": list(warnings),
        "entries": entries,
        "new_items": len(stored.new_ids) if stored else 0,
        "updated_items": len(stored.changed_ids) if stored else 0,
        "merged": dict(stored.merged) if stored else {},
        "undated": undated,
    }


def record_fetches(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Keep these fetches in their feeds' histories (one statement), and only the newest
    FETCH_HISTORY of each of those feeds (one more)."""
    if not rows:
        return
    connection.execute(feed_fetches.insert(), list(rows))
    feed_ids = sorted({row["feed_id"] for row in rows})
    ranked = (
        select(
            feed_fetches.c.id,
            func.row_number()
            .over(partition_by=feed_fetches.c.feed_id, order_by=feed_fetches.c.id.desc())
            .label("newness"),
        )
        .where(feed_fetches.c.feed_id.in_(feed_ids))
        .subquery()
    )
    connection.execute(
        delete(feed_fetches).where(
            feed_fetches.c.id.in_(select(ranked.c.id).where(ranked.c.newness > FETCH_HISTORY))
        )
    )


def fetch_history(engine: Engine, *, limit: int = 5) -> dict[int, list[dict[str, Any]]]:
    """Each feed's newest fetches (not 304s), newest first, with their own warnings."""
    ranked = select(
        feed_fetches,
        func.row_number()
        .over(partition_by=feed_fetches.c.feed_id, order_by=feed_fetches.c.id.desc())
        .label("newness"),
    ).subquery()
    history: dict[int, list[dict[str, Any]]] = {}
    with engine.connect() as connection:
        for row in connection.execute(
            select(ranked)
            .where(ranked.c.newness <= limit)
            .order_by(ranked.c.feed_id, ranked.c.id.desc())
        ):
            history.setdefault(row.feed_id, []).append(
                {
                    "at": row.fetched_at.isoformat(),
                    "outcome": row.outcome,
                    "error": row.error,
                    "warnings": list(row.warnings or []),
                    "entries": row.entries,
                    "new_items": row.new_items,
                    "updated_items": row.updated_items,
                    "merged": dict(row.merged or {}),
                    "undated": row.undated,
                }
            )
    return history


_ITEM_COLUMNS = (
    items.c.id,
    items.c.canonical_link,
    items.c.link,
    items.c.title,
    items.c.type_hint,
    items.c.summary,
    items.c.content_html,
    items.c.published_at,
    items.c.date_source,
    items.c.updated_at,
    items.c.change_count,
    items.c.last_changed_at,
)
_SOURCE_COLUMNS = (
    item_sources.c.id,
    item_sources.c.item_id,
    item_sources.c.guid,
    item_sources.c.link,
    item_sources.c.content_hash,
)

# Built once: a statement made per call costs more in SQLAlchemy's coercion and cache-key work
# than the query itself on a feed's few dozen entries. Lists go in as expanding parameters.
_SOURCES_OF_FEED = select(*_SOURCE_COLUMNS).where(item_sources.c.feed_id == bindparam("feed_id"))
_ITEMS_BY_LINK = select(*_ITEM_COLUMNS).where(
    items.c.canonical_link.in_(bindparam("links", expanding=True))
)
_ITEMS_BY_ID = select(*_ITEM_COLUMNS).where(items.c.id.in_(bindparam("ids", expanding=True)))
_IDS_BY_LINK = select(items.c.canonical_link, items.c.id).where(
    items.c.canonical_link.in_(bindparam("links", expanding=True))
)
_INSERT_ITEMS = items.insert()
_INSERT_ITEMS_RETURNING = items.insert().returning(items.c.canonical_link, items.c.id)
_INSERT_SOURCES = item_sources.insert()
_SEEN_SOURCES = (
    update(item_sources)
    .where(item_sources.c.id == bindparam("source_id"))
    .values(last_seen_at=bindparam("b_now", type_=item_sources.c.last_seen_at.type))
)
_RETAGGED_SOURCES = (
    update(item_sources)
    .where(item_sources.c.id == bindparam("b_id"))
    .values(guid=bindparam("b_guid"), link=bindparam("b_link"))
)


@dataclass(slots=True)
class _Match:
    entry: ParsedEntry
    item: Any
    source: Any  # None when the entry joins a story as a new source
    reason: str | None = None


def store_entries(
    connection: Connection,
    feed_id: int,
    entries: Iterable[ParsedEntry],
    now: datetime,
    *,
    feed: FeedRow | None = None,
) -> StoreResult:
    """Store one feed's entries: new stories inserted, sightings recorded, changes applied.

    Within a feed an entry is the entry it was before when it has the same id (guid), or, when
    neither has an id, the same canonical link. Entries with different ids are different,
    whatever their titles, texts or links say, with one exception learned per feed: an entry
    whose id changed while its link stayed (GOV.UK's organisation feeds put the update time in
    the id). That is recognised only when the old id has left the document, no other entry of
    the document has that link, the feed has never shown two ids under one link, and either
    the feed has changed ids before or something confirms it (the same words, or ids that are
    the link plus a suffix). A content hash confirms; it never makes a match on its own.

    Across feeds, an entry whose canonical link is already a story joins it as another source.
    Merges are counted by reason in the result and in the feed's `identity` record.
    """
    result = StoreResult()
    if feed is None:
        feed = load_feed_row(connection, feed_id)
    identity: dict[str, Any] = dict(feed.identity or {})
    learned = dict(identity)
    unique = _unique_entries(entries, result)
    links_in_document = Counter(entry.canonical_link for entry in unique)
    if shared := sum(count > 1 for count in links_in_document.values()):
        # Several ids under one link: this feed's links do not identify its entries.
        identity["shared_links"] = identity.get("shared_links", 0) + shared
    guids_in_document = {entry.guid for entry in unique if entry.guid is not None}

    sources = connection.execute(_SOURCES_OF_FEED, {"feed_id": feed_id}).all()
    result.items_seen = len(sources)
    by_guid = {source.guid: source for source in sources if source.guid is not None}
    by_item = {source.item_id: source for source in sources}
    by_link = _SourcesByLink(sources)

    matches: list[_Match] = []
    unmatched: list[ParsedEntry] = []
    for entry in unique:
        if entry.guid is not None:
            source = by_guid.get(entry.guid)
        else:
            source = by_link.without_guid(entry.canonical_link)
        reason = None
        if source is None and links_in_document[entry.canonical_link] == 1:
            source = _replaced_entry(entry, by_link, guids_in_document, identity)
            reason = ID_CHANGED if source is not None else None
        if source is None:
            unmatched.append(entry)
        else:
            matches.append(_Match(entry, None, source, reason))

    keys = {entry.canonical_link for entry in unique}
    known = _items_by_link(connection, sorted(keys))
    by_id = {row.id: row for row in known.values()}
    missing = [match.source.item_id for match in matches if match.source.item_id not in by_id]
    for row in _items_by_ids(connection, missing):
        by_id[row.id] = row

    claimed: set[int] = set()
    for match in matches:
        match.item = by_id[match.source.item_id]
        claimed.add(match.item.id)
    new_entries: list[tuple[ParsedEntry, str]] = []
    taken_keys = set(known)
    for entry in unmatched:
        item = known.get(entry.canonical_link)
        if item is not None and item.id not in by_item and item.id not in claimed:
            # Another feed's story (or an editor's): this feed becomes one more source.
            claimed.add(item.id)
            matches.append(_Match(entry, item, None))
            continue
        key = entry.canonical_link
        if key in taken_keys:
            # A different entry of this feed already holds the link: a story of its own.
            key = f"urn:actwatch:{canonical_link(feed.url) or feed.url}#{entry.guid or key}"
        taken_keys.add(key)
        new_entries.append((entry, key))

    new_sources: list[tuple[ParsedEntry, int]] = []
    seen_sources: list[int] = []
    retagged: list[dict[str, Any]] = []
    for match in matches:
        entry, item, source = match.entry, match.item, match.source
        if match.reason is not None:
            result.merged[match.reason] = result.merged.get(match.reason, 0) + 1
        if source is None:
            new_sources.append((entry, item.id))
            _fill_blanks(connection, item, entry, now)
            continue
        link_moved = canonical_link(item.link) != entry.canonical_link
        if source.content_hash == entry.content_hash and not link_moved:
            seen_sources.append(source.id)
            if source.guid != entry.guid or source.link != entry.link:
                retagged.append({"b_id": source.id, "b_guid": entry.guid, "b_link": entry.link})
            _fill_blanks(connection, item, entry, now, shown_source=source.link == item.link)
        elif _apply_change(connection, feed_id, item, source.id, entry, now, known):
            result.changed_ids.append(item.id)
        else:
            result.deferred_changes += 1
            seen_sources.append(source.id)

    if new_entries:
        _insert_items(connection, new_entries, now, result, new_sources)
    if new_sources:
        connection.execute(
            _INSERT_SOURCES,
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
            _SEEN_SOURCES, [{"source_id": source_id, "b_now": now} for source_id in seen_sources]
        )
    if retagged:
        connection.execute(_RETAGGED_SOURCES, retagged)
    result.items_seen += len(new_sources)
    _learn(identity, result)
    if identity != learned:
        connection.execute(update(feeds).where(feeds.c.id == feed_id).values(identity=identity))
        feed.identity = identity
    return result


ID_CHANGED = "id changed under a stable link"
REPEATED = "repeated within one fetch"


class _SourcesByLink:
    """This feed's sources by the canonical form of their stored link, built only when an entry
    is not found by its id (a feed's history can hold thousands of sources)."""

    def __init__(self, sources: Sequence[Any]) -> None:
        self._sources = sources
        self._by_link: dict[str, list[Any]] | None = None

    def all(self, link: str) -> list[Any]:
        if self._by_link is None:
            self._by_link = {}
            for source in self._sources:
                key = canonical_link(source.link)
                if key is not None:
                    self._by_link.setdefault(key, []).append(source)
        return self._by_link.get(link, [])

    def without_guid(self, link: str) -> Any | None:
        return next((source for source in self.all(link) if source.guid is None), None)


def _replaced_entry(
    entry: ParsedEntry,
    by_link: _SourcesByLink,
    guids_in_document: set[str],
    identity: dict[str, Any],
) -> Any | None:
    """The stored entry this one replaces under the same link with a new id, if any (see
    `store_entries`)."""
    if identity.get("shared_links"):
        return None
    for source in by_link.all(entry.canonical_link):
        if source.guid == entry.guid or source.guid in guids_in_document:
            continue
        if (
            identity.get("guid_changes", 0) > 0
            or source.content_hash == entry.content_hash
            or (_id_extends_link(source.guid, entry) and _id_extends_link(entry.guid, entry))
        ):
            return source
    return None


def _id_extends_link(guid: str | None, entry: ParsedEntry) -> bool:
    """Whether the id is the entry's link plus a suffix, as GOV.UK's `page#timestamp` ids are."""
    if guid is None:
        return False
    stem = guid.split("#", 1)[0]
    return stem != guid and canonical_link(stem) == canonical_link(entry.link.split("#", 1)[0])


def _learn(identity: dict[str, Any], result: StoreResult) -> None:
    if not result.merged:
        return
    merged = dict(identity.get("merged") or {})
    for reason, count in result.merged.items():
        merged[reason] = merged.get(reason, 0) + count
    identity["merged"] = merged
    if ID_CHANGED in result.merged:
        identity["guid_changes"] = identity.get("guid_changes", 0) + result.merged[ID_CHANGED]


def _unique_entries(entries: Iterable[ParsedEntry], result: StoreResult) -> list[ParsedEntry]:
    """One entry per id within one document (per canonical link for entries without an id)."""
    unique: list[ParsedEntry] = []
    keys: set[tuple[bool, str]] = set()
    for entry in entries:
        key = (True, entry.guid) if entry.guid is not None else (False, entry.canonical_link)
        if key in keys:
            result.duplicates += 1
            result.merged[REPEATED] = result.merged.get(REPEATED, 0) + 1
            continue
        keys.add(key)
        unique.append(entry)
    if result.duplicates:
        count = result.duplicates
        result.warnings.append(
            f"{count} entr{'y' if count == 1 else 'ies'} repeated the id (or, having none, the "
            "link) of an earlier entry in the same document: kept once"
        )
    return unique


def _insert_items(
    connection: Connection,
    new_entries: list[tuple[ParsedEntry, str]],
    now: datetime,
    result: StoreResult,
    new_sources: list[tuple[ParsedEntry, int]],
) -> None:
    rows = [_item_values(entry, key, now) for entry, key in new_entries]
    if connection.dialect.insert_executemany_returning:
        # Multi-row INSERTs that give back each row's id, matched by its unique link (the
        # order of RETURNING rows is not relied on: asking for it makes SQLAlchemy insert one
        # row per statement on SQLite).
        ids = {link: item_id for link, item_id in connection.execute(_INSERT_ITEMS_RETURNING, rows)}
    else:
        connection.execute(_INSERT_ITEMS, rows)
        ids = dict(_ids_by_link(connection, [key for _, key in new_entries]))
    inserted = [ids[key] for _, key in new_entries]
    result.new_ids.extend(inserted)
    new_sources.extend(zip([entry for entry, _ in new_entries], inserted, strict=True))


def _items_by_link(connection: Connection, links: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for start in range(0, len(links), IN_CHUNK):
        for row in connection.execute(_ITEMS_BY_LINK, {"links": links[start : start + IN_CHUNK]}):
            found[row.canonical_link] = row
    return found


def _ids_by_link(connection: Connection, links: list[str]) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for start in range(0, len(links), IN_CHUNK):
        rows = connection.execute(_IDS_BY_LINK, {"links": links[start : start + IN_CHUNK]})
        found.extend((link, item_id) for link, item_id in rows)
    return found


def _items_by_ids(connection: Connection, ids: list[int]) -> list[Any]:
    rows: list[Any] = []
    for start in range(0, len(ids), IN_CHUNK):
        rows.extend(connection.execute(_ITEMS_BY_ID, {"ids": ids[start : start + IN_CHUNK]}))
    return rows


def _item_values(entry: ParsedEntry, key: str, now: datetime) -> dict[str, Any]:
    return {
        "canonical_link": key,
        "link": entry.link,
        "title": entry.title,
        "type_hint": entry.type_hint,
        "summary": entry.summary,
        "content_html": entry.content_html,
        # An entry without a usable date is dated when first seen, and says so.
        "published_at": entry.published or now,
        "date_source": entry.date_source,
        "updated_at": entry.updated,
        "first_seen_at": now,
        "content_hash": entry.content_hash,
        "source_meta": entry.source_meta,
        "change_count": 0,
        "manual": False,
    }


def _fill_blanks(
    connection: Connection,
    item: Any,
    entry: ParsedEntry,
    now: datetime,
    *,
    shown_source: bool | None = None,
) -> None:
    """A second source may know what the first did not (GOV.UK search feeds omit summaries,
    a feed may give the date another left out); a feed may start dating its entries.

    The item's words changed, so it is marked changed: a verdict worked out on the title alone
    is worked out again with the summary (the matcher redoes items changed since their verdict).
    Not a recorded change: nothing the item said before is replaced."""
    values: dict[str, Any] = {}
    if shown_source is None:  # a new source of the story
        if not item.summary and entry.summary:
            values["summary"] = entry.summary
        if item.content_html is None and entry.content_html:
            values["content_html"] = entry.content_html
        if item.type_hint is None and entry.type_hint:
            values["type_hint"] = entry.type_hint
    if item.date_source == DateSource.FIRST_SEEN and entry.published is not None:
        values.update(published_at=entry.published, date_source=entry.date_source)
    if shown_source and entry.link != item.link:
        # The feed whose link readers get now writes it another way (https, no tracker). Only
        # that feed: two feeds writing one link differently must not take turns rewriting it.
        values["link"] = entry.link
    if values:
        values["last_changed_at"] = now
        connection.execute(update(items).where(items.c.id == item.id).values(**values))


def _apply_change(
    connection: Connection,
    feed_id: int,
    item: Any,
    source_id: int,
    entry: ParsedEntry,
    now: datetime,
    known: dict[str, Any],
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
        ("link", item.link, entry.link),
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
        "link": entry.link,
        "content_hash": entry.content_hash,
        "source_meta": entry.source_meta,
        "change_count": item.change_count + 1,
        "last_changed_at": now,
    }
    holder = known.get(entry.canonical_link)
    if item.canonical_link == canonical_link(item.link) and (
        holder is None or holder.id == item.id
    ):
        # The story's identity follows its link, unless another story already holds that link.
        values["canonical_link"] = entry.canonical_link
    if entry.updated is not None:
        values["updated_at"] = entry.updated
    if item.date_source == DateSource.FIRST_SEEN and entry.published is not None:
        values.update(published_at=entry.published, date_source=entry.date_source)
        diff["published_at"] = [item.published_at.isoformat(), entry.published.isoformat()]
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
    last_error: str | None = None
    """The latest error and warning, kept when later fetches are clean."""
    last_error_at: datetime | None = None
    last_warning: str | None = None
    last_warning_at: datetime | None = None
    identity: dict[str, Any] = field(default_factory=dict)
    """What polling learned about the feed's ids, and the entries it merged and why."""


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
            last_error=row.last_error,
            last_error_at=row.last_error_at,
            last_warning=row.last_warning,
            last_warning_at=row.last_warning_at,
            identity=dict(row.identity or {}),
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
    """As published (tracking parameters removed)."""
    type_hint: str | None
    summary: str
    published_at: datetime
    date_source: str
    """first_seen: the feed gave no usable date, so published_at is when it was first seen."""
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
        items.c.link,
        items.c.type_hint,
        items.c.summary,
        items.c.published_at,
        items.c.date_source,
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
            link=row.link,
            type_hint=row.type_hint,
            summary=row.summary,
            published_at=row.published_at,
            date_source=row.date_source,
            updated_at=row.updated_at,
            first_seen_at=row.first_seen_at,
            source_meta=row.source_meta,
            sources=sources.get(row.id, []),
        )
        for row in rows
    ]
