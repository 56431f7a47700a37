"""Every table actwatch keeps, as SQLAlchemy Core.

The database is the single source of truth for state. Idempotency lives in the unique
constraints: running a step twice can only find the row it made the first time.
Timestamps are stored in UTC (`UTCDateTime` refuses naive values so a local time cannot creep in).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

from actwatch.core.states import (
    BulletinState,
    DateSource,
    DeliveryState,
    FeedStatus,
    FetchOutcome,
    MatchState,
    SubscriberMailKind,
    SubscriberMailState,
    SubscriberStatus,
)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite has no time zones of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store aware UTC datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


# Names for constraints so migrations can refer to them on every backend.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _one_of(column: str, values: type[StrEnum]) -> CheckConstraint:
    allowed = ", ".join(f"'{member.value}'" for member in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=f"{column}_allowed")


feeds = Table(
    "feeds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("url", Text, nullable=False, comment="The URL in the config file."),
    Column(
        "fetch_url", Text, nullable=False, comment="Where to fetch: follows permanent redirects."
    ),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("disabled_reason", Text),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("status", String(20), nullable=False, default=FeedStatus.NEW),
    Column("error", Text),
    Column("warning", Text, comment="Warnings of the latest fetch that parsed; null if none."),
    Column("last_warning", Text, comment="The latest warning, kept when later fetches are clean."),
    Column("last_warning_at", UTCDateTime),
    Column("last_error", Text, comment="The latest error, kept when later fetches succeed."),
    Column("last_error_at", UTCDateTime),
    Column(
        "identity",
        JSON,
        nullable=False,
        default=dict,
        server_default="{}",
        comment="What polling learned about the feed's ids, and the entries it merged and why.",
    ),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("last_fetched_at", UTCDateTime),
    Column("last_ok_at", UTCDateTime),
    Column("next_fetch_at", UTCDateTime),
    Column("items_seen", Integer, nullable=False, default=0),
    Column("feed_title", Text),
    Column("created_at", UTCDateTime, nullable=False),
    _one_of("status", FeedStatus),
)

# One row per announcement (a story): the same canonical link from two feeds is one item.
items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "canonical_link",
        Text,
        nullable=False,
        unique=True,
        comment="Identity: core.links.canonical_link, or a urn for an entry no link identifies.",
    ),
    Column(
        "link",
        Text,
        nullable=False,
        # An item added without a published link (an editor's) is shown at its canonical link.
        default=lambda context: context.get_current_parameters()["canonical_link"],
        comment="The link as published (tracking parameters removed): what readers get.",
    ),
    Column("title", Text, nullable=False),
    Column("type_hint", Text, comment="GOV.UK display type split off the title."),
    Column("summary", Text, nullable=False, default="", comment="Sanitised plain text."),
    Column("content_html", Text, comment="Sanitised HTML."),
    Column("published_at", UTCDateTime, nullable=False),
    Column(
        "date_source",
        String(20),
        nullable=False,
        default=DateSource.PUBLISHED,
        server_default=DateSource.PUBLISHED.value,
        comment="first_seen: the feed gave no usable date, so published_at is first_seen_at.",
    ),
    Column("updated_at", UTCDateTime),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("source_meta", JSON, nullable=False, default=dict),
    Column("change_count", Integer, nullable=False, default=0),
    Column("last_changed_at", UTCDateTime),
    Column("manual", Boolean, nullable=False, default=False, comment="Added by an editor."),
    Index("ix_items_published_at", "published_at"),
    _one_of("date_source", DateSource),
)

# Where an item was seen: one row per feed and item (so per feed and canonical link).
item_sources = Table(
    "item_sources",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("feed_id", ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
    Column("guid", Text),
    Column("link", Text, nullable=False, comment="The link as the feed gave it."),
    Column("content_hash", String(64), nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    UniqueConstraint("feed_id", "item_id"),
    Index("ix_item_sources_feed_guid", "feed_id", "guid"),
    Index("ix_item_sources_feed_hash", "feed_id", "content_hash"),
    Index("ix_item_sources_item_id", "item_id"),
)

# One row per fetch that brought a document or failed (not per 304), newest kept per feed:
# each fetch's own warnings, so a later clean fetch cannot hide an earlier problem.
feed_fetches = Table(
    "feed_fetches",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("feed_id", ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
    Column("fetched_at", UTCDateTime, nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("error", Text),
    Column("warnings", JSON, nullable=False, default=list),
    Column("entries", Integer, nullable=False, default=0),
    Column("new_items", Integer, nullable=False, default=0),
    Column("updated_items", Integer, nullable=False, default=0),
    Column("merged", JSON, nullable=False, default=dict, comment="reason -> entries merged"),
    Column("undated", Integer, nullable=False, default=0),
    Index("ix_feed_fetches_feed_id", "feed_id", "id"),
    _one_of("outcome", FetchOutcome),
)

item_changes = Table(
    "item_changes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("feed_id", ForeignKey("feeds.id", ondelete="SET NULL")),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("changes", JSON, nullable=False, comment="field -> [old, new]"),
    Index("ix_item_changes_item_id", "item_id"),
)

# The matcher's verdict on an item: one current row per item, replaced by reclassify.
item_matches = Table(
    "item_matches",
    metadata,
    Column("item_id", ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("state", String(20), nullable=False),
    Column("relevant", Boolean, nullable=False),
    Column("event_type", String(30)),
    Column("confidence", Float, nullable=False),
    Column("evidence", JSON, nullable=False, default=list),
    Column("rules_hash", String(64), nullable=False),
    Column("classified_at", UTCDateTime, nullable=False),
    Column("editor_state", String(20), comment="An editor's decision overrides the matcher's."),
    Column("editor_event_type", String(30), comment="The editor's type: kept through reclassify."),
    Column(
        "editor_strands", JSON, comment="The editor's strands (a list): kept through reclassify."
    ),
    _one_of("state", MatchState),
    Index("ix_item_matches_state", "state"),
    # With the state's index, answers "the editor's verdict, else the matcher's, is X"
    # (matching.store.decided) without reading every verdict: the editor's pages ask it.
    Index("ix_item_matches_editor_state", "editor_state"),
)

# The editor's decisions taken in by `actwatch learn`: labelled examples for the learned scorer,
# kept as they were decided (the item's words included) so retraining needs nothing else.
learned_examples = Table(
    "learned_examples",
    metadata,
    Column("item_id", ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False, default=""),
    Column("link", Text, nullable=False, default=""),
    Column("type_hint", Text),
    Column("published_on", Date),
    Column("relevant", Boolean, nullable=False),
    Column("event_type", String(30)),
    Column("strands", JSON, nullable=False, default=list),
    Column("learned_at", UTCDateTime, nullable=False),
)

# Trained scorers, cached by what they were trained from (rules, data, version): training is
# deterministic, so a cached model is the model training would give.
matcher_models = Table(
    "matcher_models",
    metadata,
    Column("data_key", String(64), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("trained_on", Integer, nullable=False),
    Column("body", JSON, nullable=False, comment="Vocabulary, weights and outputs."),
)

item_strands = Table(
    "item_strands",
    metadata,
    Column("item_id", ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("strand", String(60), primary_key=True),
    Index("ix_item_strands_strand", "strand"),
)

# Sections an instrument brings into force and when (from its title, summary or text).
commencements = Table(
    "commencements",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("section", String(30), nullable=False),
    Column("strand", String(60)),
    Column("in_force_on", Date),
    Column("purpose", Text, comment="'for all purposes', 'for the purpose of making regulations'."),
    Column("source", String(20), nullable=False, comment="title, summary or instrument text."),
    UniqueConstraint("item_id", "section", "in_force_on"),
    Index("ix_commencements_in_force_on", "in_force_on"),
)

# legislation.gov.uk documents fetched once and kept, so a reclassify needs no network.
instrument_texts = Table(
    "instrument_texts",
    metadata,
    Column("url", Text, primary_key=True),
    Column("fetched_at", UTCDateTime, nullable=False),
    Column("status", Integer, nullable=False),
    Column("body", Text),
)

bulletins = Table(
    "bulletins",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("season", String(30), nullable=False, unique=True),
    Column("state", String(20), nullable=False, default=BulletinState.DRAFT),
    Column("headline", Text, nullable=False, default=""),
    Column("intro_md", Text, nullable=False, default=""),
    Column(
        "preheader",
        Text,
        nullable=False,
        default="",
        server_default="",
        comment="The preview text inboxes show after the subject (empty: the default).",
    ),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("refreshed_at", UTCDateTime),
    Column("revision", Integer, nullable=False, default=1, comment="Bumped by every edit."),
    Column("approved_by", Text),
    Column("approved_at", UTCDateTime),
    Column("approved_revision", Integer),
    Column("frozen_html", Text),
    Column("frozen_text", Text),
    Column("frozen_markdown", Text),
    Column("frozen_context", JSON, comment="The composed bulletin that was approved."),
    Column("content_hash", String(64)),
    Column("scheduled_for", UTCDateTime),
    Column("send_started_at", UTCDateTime),
    Column("sent_at", UTCDateTime),
    Column("editor_notified_at", UTCDateTime),
    Column(
        "send_problem",
        Text,
        comment="Why the send is held up: the server's reply that blocked it, or the outage.",
    ),
    Column("send_problem_at", UTCDateTime),
    Column(
        "issue_date",
        Date,
        comment="The date the bulletin is issued on, when set ahead (else the approval day).",
    ),
    _one_of("state", BulletinState),
)

bulletin_items = Table(
    "bulletin_items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("bulletin_id", ForeignKey("bulletins.id", ondelete="CASCADE"), nullable=False),
    Column("item_id", ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("included", Boolean, nullable=False, default=True),
    Column("strand", String(60), comment="Editor's move to another strand."),
    Column("position", Integer, comment="Editor's order; null keeps the composed order."),
    Column("summary", Text, comment="Editor's own summary."),
    Column("added_by", String(20), nullable=False, default="matcher"),
    Column("added_at", UTCDateTime, nullable=False),
    UniqueConstraint("bulletin_id", "item_id"),
)

editors = Table(
    "editors",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("email", Text),
    Column("password_hash", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_login_at", UTCDateTime),
)

# Failed editor logins, kept so the rate limit survives a restart; old rows are pruned on login.
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, comment="The name tried, lower-cased."),
    Column("address", String(64), nullable=False, comment="The client's IP address."),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_login_failures_address_at", "address", "at"),
)

# An editor's logged-in sessions: the cookie holds a random secret, the table its digest, so
# logging out or changing the password ends a session on the server, not just in one browser.
editor_sessions = Table(
    "editor_sessions",
    metadata,
    Column("id", String(64), primary_key=True, comment="SHA-256 of the cookie's session secret."),
    Column("editor_id", ForeignKey("editors.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Index("ix_editor_sessions_editor_id", "editor_id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", String(40), nullable=False),
    Column("bulletin_id", ForeignKey("bulletins.id", ondelete="SET NULL")),
    Column("from_state", String(20)),
    Column("to_state", String(20)),
    Column("detail", JSON, nullable=False, default=dict),
    Index("ix_audit_log_bulletin_id", "bulletin_id"),
)

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True, comment="Lower-cased."),
    Column("name", Text),
    Column("status", String(20), nullable=False),
    Column("all_strands", Boolean, nullable=False, default=True),
    Column("consent_source", Text, nullable=False, comment="Import file and time, or web form."),
    Column("consent_at", UTCDateTime, nullable=False),
    Column("confirmed_at", UTCDateTime),
    Column("unsubscribed_at", UTCDateTime),
    Column("bounced_at", UTCDateTime),
    Column("token_nonce", String(64), nullable=False, comment="Rotating it voids old links."),
    Column("created_at", UTCDateTime, nullable=False),
    _one_of("status", SubscriberStatus),
)

subscriber_strands = Table(
    "subscriber_strands",
    metadata,
    Column("subscriber_id", ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True),
    Column("strand", String(60), primary_key=True),
)

# Mail to one subscriber about their subscription (confirm, welcome, their links), queued by the
# public pages and sent after the response, so the answer never depends on the mail server.
subscriber_mail = Table(
    "subscriber_mail",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("subscriber_id", ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("state", String(20), nullable=False, default="queued"),
    Column("queued_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("last_error", Text),
    Index("ix_subscriber_mail_state_next_attempt_at", "state", "next_attempt_at"),
    Index("ix_subscriber_mail_subscriber_id_queued_at", "subscriber_id", "queued_at"),
    _one_of("kind", SubscriberMailKind),
    _one_of("state", SubscriberMailState),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("bulletin_id", ForeignKey("bulletins.id", ondelete="CASCADE"), nullable=False),
    Column("subscriber_id", ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False),
    Column("state", String(20), nullable=False, default=DeliveryState.PENDING),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime),
    Column("claimed_by", Text),
    Column("claimed_at", UTCDateTime),
    Column("sent_at", UTCDateTime),
    Column("message_id", Text),
    Column("last_error", Text),
    UniqueConstraint("bulletin_id", "subscriber_id"),
    Index("ix_deliveries_bulletin_state", "bulletin_id", "state"),
    _one_of("state", DeliveryState),
)

# Small facts the service keeps about itself: last poll, scheduler heartbeat.
service_state = Table(
    "service_state",
    metadata,
    Column("key", String(60), primary_key=True),
    Column("value", JSON),
    Column("updated_at", UTCDateTime, nullable=False),
)
