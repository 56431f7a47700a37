"""The states a row can be in, one enum per table that has them.

The schema builds its CHECK constraints from these enums (`db/schema.py`), so a state the code
can write is a state the database accepts; the members are `str`s, so they compare equal to and
are stored as their values on every backend.
"""

from __future__ import annotations

from enum import StrEnum


class FeedStatus(StrEnum):
    """The outcome of a feed's last fetch (`feeds.status`)."""

    NEW = "new"
    OK = "ok"
    NOT_MODIFIED = "not_modified"
    ERROR = "error"
    DISABLED = "disabled"


class FetchOutcome(StrEnum):
    """How a fetch that was not a 304 ended (`feed_fetches.outcome`)."""

    OK = "ok"
    ERROR = "error"


class DateSource(StrEnum):
    """Where an item's date came from (`items.date_source`)."""

    PUBLISHED = "published"
    UPDATED = "updated"
    FIRST_SEEN = "first_seen"
    """The feed gave no usable date: the item is dated when actwatch first saw it."""


class MatchState(StrEnum):
    """The matcher's (or the editor's) verdict on an item (`item_matches.state`)."""

    RELEVANT = "relevant"
    UNCERTAIN = "uncertain"
    REJECTED = "rejected"


class BulletinState(StrEnum):
    """Where a bulletin is in review and delivery (`bulletins.state`); the transitions between
    them are in `review/states.py`."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    BLOCKED = "blocked"
    """The mail server rejected the message itself (5xx at MAIL FROM or DATA), or too many of
    the first recipients bounced: sending stopped until the operator lets it carry on."""
    SENT = "sent"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class SubscriberStatus(StrEnum):
    """`subscribers.status`."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    ERASED = "erased"


class SubscriberMailKind(StrEnum):
    """What a message about one subscriber's own subscription is (`subscriber_mail.kind`)."""

    CONFIRM = "confirm"
    WELCOME = "welcome"
    LINKS = "links"
    ALREADY = "already"  # someone asked to subscribe an address that already is


class SubscriberMailState(StrEnum):
    """`subscriber_mail.state`: waiting (or retrying), sent, or given up."""

    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class DeliveryState(StrEnum):
    """One message to one subscriber (`deliveries.state`)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    BOUNCED = "bounced"
    SUPPRESSED = "suppressed"
