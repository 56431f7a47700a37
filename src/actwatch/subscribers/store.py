"""Subscribers in the database: who they are, what they chose, and where their consent came from.

Status: `pending` (signed up on the web, not yet confirmed), `confirmed` (gets the bulletin),
`unsubscribed`, `bounced` (a permanent failure: never mailed again), `erased` (their data deleted
on request; only a digest of the address is kept so that no import can add them back).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, func, insert, or_, select, update

from actwatch.config import Config
from actwatch.core.emails import email_digest, normalise_email
from actwatch.core.states import SubscriberStatus
from actwatch.core.text import one_line
from actwatch.db.schema import subscriber_strands, subscribers
from actwatch.subscribers.tokens import new_nonce

PENDING = SubscriberStatus.PENDING
CONFIRMED = SubscriberStatus.CONFIRMED
UNSUBSCRIBED = SubscriberStatus.UNSUBSCRIBED
BOUNCED = SubscriberStatus.BOUNCED
ERASED = SubscriberStatus.ERASED
# Nobody in these states is ever added back by an import.
SUPPRESSED = frozenset({UNSUBSCRIBED, BOUNCED, ERASED})
NAME_LIMIT = 200
_CHUNK = 1000  # rows per statement: SQLite allows 32,766 bound values


class SubscriberError(ValueError):
    """A request about a subscriber that cannot be carried out, with the reason."""


@dataclass(frozen=True)
class Subscriber:
    id: int
    email: str
    name: str | None
    status: str
    all_strands: bool
    strands: tuple[str, ...]
    consent_source: str
    consent_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None
    bounced_at: datetime | None
    token_nonce: str
    created_at: datetime

    @property
    def choice(self) -> frozenset[str] | None:
        """The strands they get: None means every strand (including ones added later)."""
        return None if self.all_strands else frozenset(self.strands)


def utcnow(now: datetime | None = None) -> datetime:
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware one")
    return moment.astimezone(UTC)


def clean_name(name: str | None) -> str | None:
    """A name as it is stored, wherever it came from (an import, an editor, the sign-up form):
    one line with no control characters (`core.text.one_line`), at most NAME_LIMIT long. An
    encoded word in it (`=?utf-8?q?...?=`) stays literal text; headers encode it as text."""
    cleaned = one_line(name)[:NAME_LIMIT].rstrip()
    return cleaned or None


def resolve_strands(config: Config, chosen: Iterable[str]) -> tuple[str, ...]:
    """Strand slugs (or names) as the config knows them, in config order; unknown ones raise."""
    by_name = {strand.name.lower(): slug for slug, strand in config.strands.items()}
    picked: set[str] = set()
    unknown: list[str] = []
    for raw in chosen:
        value = raw.strip()
        if not value:
            continue
        key = value.lower()
        slug = key if key in config.strands else by_name.get(key)
        if slug is None:
            unknown.append(value)
        else:
            picked.add(slug)
    if unknown:
        raise SubscriberError(
            f"unknown strand{'s' if len(unknown) > 1 else ''} "
            + ", ".join(repr(u) for u in unknown)
            + f" (known: {', '.join(config.strands)})"
        )
    return tuple(slug for slug in config.strands if slug in picked)


def _strands_of(connection: Connection, ids: Collection[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    if not ids:
        return found
    rows = connection.execute(
        select(subscriber_strands.c.subscriber_id, subscriber_strands.c.strand)
        .where(subscriber_strands.c.subscriber_id.in_(list(ids)))
        .order_by(subscriber_strands.c.strand)
    )
    for subscriber_id, strand in rows:
        found.setdefault(subscriber_id, []).append(strand)
    return found


def _subscriber(row: Any, strands: list[str]) -> Subscriber:
    return Subscriber(
        id=row.id,
        email=row.email,
        name=row.name,
        status=row.status,
        all_strands=row.all_strands,
        strands=tuple(strands),
        consent_source=row.consent_source,
        consent_at=row.consent_at,
        confirmed_at=row.confirmed_at,
        unsubscribed_at=row.unsubscribed_at,
        bounced_at=row.bounced_at,
        token_nonce=row.token_nonce,
        created_at=row.created_at,
    )


def load(connection: Connection, subscriber_id: int) -> Subscriber | None:
    row = connection.execute(select(subscribers).where(subscribers.c.id == subscriber_id)).first()
    if row is None:
        return None
    return _subscriber(row, _strands_of(connection, [row.id]).get(row.id, []))


def get_subscriber(engine: Engine, subscriber_id: int) -> Subscriber | None:
    with engine.connect() as connection:
        return load(connection, subscriber_id)


def find_subscriber(engine: Engine, email: str) -> Subscriber | None:
    """By address (any case); an erased subscriber is found by the digest of their address."""
    address = email.strip().lower()
    with engine.connect() as connection:
        row = connection.execute(
            select(subscribers).where(subscribers.c.email.in_([address, email_digest(address)]))
        ).first()
        if row is None:
            return None
        return _subscriber(row, _strands_of(connection, [row.id]).get(row.id, []))


def list_subscribers(
    engine: Engine, *, status: str | None = None, strand: str | None = None
) -> list[Subscriber]:
    query = select(subscribers).order_by(subscribers.c.email)
    if status:
        query = query.where(subscribers.c.status == status)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
        strands = _strands_of(connection, [row.id for row in rows]) if rows else {}
    found = [_subscriber(row, strands.get(row.id, [])) for row in rows]
    if strand:
        found = [s for s in found if s.all_strands or strand in s.strands]
    return found


@dataclass(frozen=True)
class SubscriberPage:
    subscribers: list[Subscriber]
    total: int  # how many match, on every page


def search_subscribers(
    engine: Engine,
    *,
    text: str = "",
    status: str | None = None,
    strand: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> SubscriberPage:
    """One page of the subscribers whose address or name contains `text` (any case), in the
    given state and getting `strand` (those who get every strand do), by address."""
    conditions = []
    words = text.strip().lower()
    if words:
        pattern = "%" + words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(
            or_(
                subscribers.c.email.like(pattern, escape="\\"),
                func.lower(subscribers.c.name).like(pattern, escape="\\"),
            )
        )
    if status:
        conditions.append(subscribers.c.status == status)
    if strand:
        chose = select(subscriber_strands.c.subscriber_id).where(
            subscriber_strands.c.strand == strand
        )
        conditions.append(or_(subscribers.c.all_strands.is_(True), subscribers.c.id.in_(chose)))
    where = and_(*conditions) if conditions else None
    query = select(subscribers).order_by(subscribers.c.email, subscribers.c.id)
    count = select(func.count()).select_from(subscribers)
    if where is not None:
        query, count = query.where(where), count.where(where)
    with engine.connect() as connection:
        total = int(connection.execute(count).scalar_one())
        rows = connection.execute(query.limit(limit).offset(offset)).all()
        strands = _strands_of(connection, [row.id for row in rows]) if rows else {}
    return SubscriberPage([_subscriber(row, strands.get(row.id, [])) for row in rows], total)


def set_choice(connection: Connection, subscriber_id: int, strands: tuple[str, ...] | None) -> None:
    """None = every strand; otherwise exactly these."""
    connection.execute(
        delete(subscriber_strands).where(subscriber_strands.c.subscriber_id == subscriber_id)
    )
    connection.execute(
        update(subscribers)
        .where(subscribers.c.id == subscriber_id)
        .values(all_strands=strands is None)
    )
    if strands:
        connection.execute(
            insert(subscriber_strands),
            [{"subscriber_id": subscriber_id, "strand": slug} for slug in strands],
        )


def choice_from(config: Config, strands: tuple[str, ...]) -> tuple[str, ...] | None:
    """Nothing chosen, or every strand chosen, means every strand (and new ones too)."""
    if not strands or set(strands) >= set(config.strands):
        return None
    return strands


@dataclass(frozen=True)
class SignUp:
    subscriber: Subscriber
    # What to email them: "confirm" (a new or renewed sign-up), "already" (they are subscribed:
    # someone may be trying their address), or None (a confirmation went out a moment ago).
    mail: str | None


def sign_up(
    engine: Engine,
    config: Config,
    email: str,
    *,
    name: str | None,
    strands: tuple[str, ...] | None,
    source: str,
    now: datetime | None = None,
    resend_after_seconds: int = 600,
) -> SignUp:
    """The web form: a pending subscriber (or the existing one), confirmed by the emailed link.

    Someone who unsubscribed, bounced or was erased may sign up again: the double opt-in proves
    they asked. A confirmed subscriber is left as is (their choices are changed on the
    preferences page), so the form cannot be used to change someone else's subscription.
    """
    address = normalise_email(email)
    moment = utcnow(now)
    with engine.begin() as connection:
        row = connection.execute(
            select(subscribers).where(subscribers.c.email.in_([address, email_digest(address)]))
        ).first()
        if row is not None and row.status == CONFIRMED:
            subscriber = load(connection, row.id)
            assert subscriber is not None
            return SignUp(subscriber, "already")
        if row is not None and row.status == PENDING:
            recent = (moment - row.consent_at).total_seconds() < resend_after_seconds
            connection.execute(
                update(subscribers)
                .where(subscribers.c.id == row.id)
                .values(name=clean_name(name) or row.name, consent_source=source)
                .values({} if recent else {"consent_at": moment})
            )
            if not recent:
                set_choice(connection, row.id, strands)
            subscriber = load(connection, row.id)
            assert subscriber is not None
            return SignUp(subscriber, None if recent else "confirm")
        values = {
            "email": address,
            "name": clean_name(name),
            "status": PENDING,
            "consent_source": source,
            "consent_at": moment,
            "confirmed_at": None,
            "token_nonce": new_nonce(),
        }
        if row is None:
            inserted = connection.execute(
                insert(subscribers).values(created_at=moment, all_strands=True, **values)
            ).inserted_primary_key
            assert inserted is not None
            subscriber_id = int(inserted[0])
        else:
            subscriber_id = row.id
            connection.execute(
                update(subscribers).where(subscribers.c.id == row.id).values(**values)
            )
        set_choice(connection, subscriber_id, strands)
        subscriber = load(connection, subscriber_id)
        assert subscriber is not None
    return SignUp(subscriber, "confirm")


@dataclass(frozen=True)
class Confirmation:
    subscriber: Subscriber
    newly: bool  # False: the link was followed before


def confirm(
    engine: Engine, subscriber_id: int, nonce: str, *, now: datetime | None = None
) -> Confirmation:
    """The confirmation link was followed: pending -> confirmed (repeating it is harmless)."""
    moment = utcnow(now)
    with engine.begin() as connection:
        subscriber = load(connection, subscriber_id)
        if subscriber is None or subscriber.token_nonce != nonce:
            raise SubscriberError("this confirmation link is no longer valid: subscribe again")
        newly = False
        if subscriber.status == PENDING:
            newly = bool(
                connection.execute(
                    update(subscribers)
                    .where(subscribers.c.id == subscriber_id, subscribers.c.status == PENDING)
                    .values(
                        status=CONFIRMED,
                        confirmed_at=moment,
                        consent_source=f"{subscriber.consent_source}; confirmed by email link "
                        f"at {moment:%Y-%m-%dT%H:%M:%SZ}",
                        unsubscribed_at=None,
                        bounced_at=None,
                    )
                ).rowcount
            )
        elif subscriber.status != CONFIRMED:
            raise SubscriberError("this confirmation link is no longer valid: subscribe again")
        result = load(connection, subscriber_id)
        assert result is not None
    return Confirmation(result, newly)


def by_link(engine: Engine, subscriber_id: int, nonce: str) -> Subscriber | None:
    """The subscriber a link token names, if the link has not been voided."""
    subscriber = get_subscriber(engine, subscriber_id)
    if subscriber is None or subscriber.token_nonce != nonce or subscriber.status == ERASED:
        return None
    return subscriber


def unsubscribe(engine: Engine, subscriber_id: int, *, now: datetime | None = None) -> bool:
    """True when this call unsubscribed them (False: they had already left)."""
    moment = utcnow(now)
    with engine.begin() as connection:
        changed = connection.execute(
            update(subscribers)
            .where(
                subscribers.c.id == subscriber_id, subscribers.c.status.in_([PENDING, CONFIRMED])
            )
            .values(status=UNSUBSCRIBED, unsubscribed_at=moment)
        ).rowcount
    return bool(changed)


def mark_bounced(connection: Connection, subscriber_ids: Collection[int], *, now: datetime) -> None:
    """A permanent failure at the recipient: never mailed again. Takes the caller's transaction,
    so a delivery's outcome and the subscriber's state change together."""
    if not subscriber_ids:
        return
    connection.execute(
        update(subscribers)
        .where(
            subscribers.c.id.in_(list(subscriber_ids)),
            subscribers.c.status.in_([PENDING, CONFIRMED]),
        )
        .values(status=BOUNCED, bounced_at=utcnow(now))
    )


def update_preferences(
    engine: Engine, config: Config, subscriber_id: int, strands: tuple[str, ...]
) -> Subscriber:
    if not strands:
        raise SubscriberError("choose at least one strand (or unsubscribe)")
    with engine.begin() as connection:
        current = load(connection, subscriber_id)
        if current is None or current.status == ERASED:
            raise SubscriberError("no such subscriber")
        set_choice(connection, subscriber_id, choice_from(config, strands))
        result = load(connection, subscriber_id)
        assert result is not None
    return result


def rotate_nonce(engine: Engine, subscriber_id: int) -> str:
    """A new nonce: every link sent so far stops working."""
    nonce = new_nonce()
    with engine.begin() as connection:
        connection.execute(
            update(subscribers).where(subscribers.c.id == subscriber_id).values(token_nonce=nonce)
        )
    return nonce


# What `actwatch status` counts.


def count_by_status(engine: Engine) -> dict[str, int]:
    """Subscribers by status (every status present, zero or not)."""
    with engine.connect() as connection:
        found: dict[str, int] = dict(
            connection.execute(
                select(subscribers.c.status, func.count()).group_by(subscribers.c.status)
            ).all()
        )
    return {status.value: int(found.get(status, 0)) for status in SubscriberStatus}


# CSV imports: the file is parsed by `imports`, the rows land here.


@dataclass(frozen=True)
class ImportRow:
    line: int
    email: str
    name: str | None
    strands: tuple[str, ...] | None  # None: every strand


@dataclass
class ImportOutcome:
    added: int = 0
    confirmed: int = 0  # pending web sign-ups the import confirmed
    unchanged: int = 0  # already subscribed: their own choices are kept
    # Rows naming someone who left: (row, their status, when they left).
    suppressed: list[tuple[ImportRow, str, datetime | None]] = field(default_factory=list)


def import_rows(
    engine: Engine, rows: Sequence[ImportRow], *, evidence: str, now: datetime
) -> ImportOutcome:
    """Add imported people as confirmed, in one transaction. Someone already confirmed keeps
    their own choices; a pending web sign-up is confirmed (the import is the evidence); nobody
    who unsubscribed, bounced or was erased is added back."""
    moment = utcnow(now)
    outcome = ImportOutcome()
    with engine.begin() as connection:
        existing: dict[str, tuple[int, str, datetime | None]] = {}
        emails = [row.email for row in rows]
        keys = emails + [email_digest(e) for e in emails]
        for start in range(0, len(keys), _CHUNK):
            for found in connection.execute(
                select(
                    subscribers.c.id,
                    subscribers.c.email,
                    subscribers.c.status,
                    subscribers.c.unsubscribed_at,
                    subscribers.c.bounced_at,
                ).where(subscribers.c.email.in_(keys[start : start + _CHUNK]))
            ):
                when = found.unsubscribed_at or found.bounced_at
                existing[found.email] = (found.id, found.status, when)
        new_rows = []
        to_confirm = []
        for row in rows:
            known = existing.get(row.email) or existing.get(email_digest(row.email))
            if known is None:
                new_rows.append(row)
                continue
            subscriber_id, status, when = known
            if status == CONFIRMED:
                outcome.unchanged += 1
            elif status == PENDING:
                to_confirm.append(subscriber_id)
            else:
                outcome.suppressed.append((row, status, when))
        for start in range(0, len(to_confirm), _CHUNK):
            connection.execute(
                update(subscribers)
                .where(
                    subscribers.c.id.in_(to_confirm[start : start + _CHUNK]),
                    subscribers.c.status == PENDING,
                )
                .values(status=CONFIRMED, confirmed_at=moment, consent_source=evidence)
            )
        outcome.confirmed = len(to_confirm)
        for start in range(0, len(new_rows), _CHUNK):
            chunk = new_rows[start : start + _CHUNK]
            connection.execute(
                insert(subscribers),
                [
                    {
                        "email": row.email,
                        "name": row.name,
                        "status": CONFIRMED,
                        "all_strands": row.strands is None,
                        "consent_source": evidence,
                        "consent_at": moment,
                        "confirmed_at": moment,
                        "token_nonce": new_nonce(),
                        "created_at": moment,
                    }
                    for row in chunk
                ],
            )
            chosen = {row.email: row.strands for row in chunk if row.strands is not None}
            if chosen:
                ids = connection.execute(
                    select(subscribers.c.email, subscribers.c.id).where(
                        subscribers.c.email.in_(list(chosen))
                    )
                ).all()
                connection.execute(
                    insert(subscriber_strands),
                    [
                        {"subscriber_id": subscriber_id, "strand": slug}
                        for email, subscriber_id in ids
                        for slug in chosen[email] or ()
                    ],
                )
        outcome.added = len(new_rows)
    return outcome


# Personal data: erasure on request, and the retention periods of the nightly housekeeping.


def erase_subscriber(connection: Connection, subscriber_id: int, *, now: datetime) -> None:
    """Name, choices and address go; a digest of the address stays, so no import adds them back.
    Takes the caller's transaction (erasure also scrubs their deliveries)."""
    moment = utcnow(now)
    email = connection.execute(
        select(subscribers.c.email).where(subscribers.c.id == subscriber_id)
    ).scalar_one()
    connection.execute(
        delete(subscriber_strands).where(subscriber_strands.c.subscriber_id == subscriber_id)
    )
    connection.execute(
        update(subscribers)
        .where(subscribers.c.id == subscriber_id)
        .values(
            email=email if email.startswith("erased:") else email_digest(email),
            name=None,
            status=ERASED,
            all_strands=True,
            consent_source=f"erased on request at {moment:%Y-%m-%dT%H:%M:%SZ}",
            unsubscribed_at=moment,
            token_nonce=new_nonce(),
        )
    )


def leavers_before(engine: Engine, before: datetime) -> list[int]:
    """Subscribers who unsubscribed or bounced before `before` (their data is due for erasure)."""
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(subscribers.c.id)
                .where(
                    or_(
                        and_(
                            subscribers.c.status == UNSUBSCRIBED,
                            subscribers.c.unsubscribed_at < before,
                        ),
                        and_(subscribers.c.status == BOUNCED, subscribers.c.bounced_at < before),
                    )
                )
                .order_by(subscribers.c.id)
            ).scalars()
        )


def expire_signups(engine: Engine, before: datetime) -> int:
    """Sign-ups made before `before` and never confirmed: a person who was never a subscriber is
    deleted (nothing was ever sent to them); someone who had left and signed up again without
    confirming goes back to how they left. How many sign-ups were expired."""
    unconfirmed = and_(subscribers.c.status == PENDING, subscribers.c.consent_at < before)
    with engine.begin() as connection:
        deleted = connection.execute(
            delete(subscribers).where(
                unconfirmed,
                subscribers.c.confirmed_at.is_(None),
                subscribers.c.unsubscribed_at.is_(None),
                subscribers.c.bounced_at.is_(None),
            )
        ).rowcount
        returned = connection.execute(
            update(subscribers)
            .where(unconfirmed, subscribers.c.bounced_at.is_not(None))
            .values(status=BOUNCED)
        ).rowcount
        returned += connection.execute(
            update(subscribers)
            .where(unconfirmed, subscribers.c.unsubscribed_at.is_not(None))
            .values(status=UNSUBSCRIBED)
        ).rowcount
    return int(deleted) + int(returned)
