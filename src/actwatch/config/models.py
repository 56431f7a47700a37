"""The whole configuration file as validated models.

Paths in the file are relative to the file's own folder: `Config.resolve_paths` makes them
absolute once, so nothing downstream ever looks at the current directory.
"""

from __future__ import annotations

import ipaddress
import itertools
import string
from datetime import time, timedelta
from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from actwatch.config.rules import (
    ActConfig,
    EventTypeConfig,
    MatchingConfig,
    StrandConfig,
    ThemeConfig,
)
from actwatch.config.types import ByteSize, Duration, Email, HttpURL, Slug, StrictModel

EVENT_TYPE_SLUGS = (
    "commencement",
    "pilot",
    "consultation",
    "guidance",
    "regulations",
    "funding",
    "other",
)
MONTHS = range(1, 13)


class FeedConfig(StrictModel):
    name: Slug
    url: HttpURL
    title: str | None = Field(default=None, description="How the bulletin names the source.")
    enabled: bool = True
    poll_interval: Duration | None = Field(
        default=None, description="Overrides schedule.poll_interval for this feed."
    )
    timeout: Duration | None = Field(default=None, description="Overrides fetch.deadline.")
    max_bytes: ByteSize | None = Field(default=None, description="Overrides fetch.max_bytes.")
    format: Literal["auto", "xml", "json"] = Field(
        default="auto",
        description="xml (RSS, Atom, RDF) or json (JSON Feed); auto goes by the Content-Type.",
    )

    @property
    def source_title(self) -> str:
        return self.title or self.name


class FetchConfig(StrictModel):
    concurrency: int = Field(default=8, ge=1, le=64)
    connect_timeout: Duration = timedelta(seconds=10)
    read_timeout: Duration = timedelta(seconds=30)
    deadline: Duration = Field(
        default=timedelta(seconds=60), description="Total time allowed for one feed."
    )
    max_bytes: ByteSize = 10_000_000
    max_redirects: int = Field(default=5, ge=0, le=20)
    contact: Email = Field(description="Named in the User-Agent so feed owners can reach us.")
    parse_workers: int | None = Field(
        default=None, ge=1, description="Processes that parse feeds; default: one per core."
    )
    min_interval: Duration = Field(
        default=timedelta(minutes=5), description="Never fetch one feed more often than this."
    )
    max_backoff: Duration = timedelta(days=1)


class EditorConfig(StrictModel):
    name: str = Field(min_length=1)
    email: Email


class BulletinConfig(StrictModel):
    seasons: dict[Slug, list[int]] = {
        "spring": [3, 4, 5],
        "summer": [6, 7, 8],
        "autumn": [9, 10, 11],
        "winter": [12, 1, 2],
    }
    title_pattern: str = "{Season} {year} news: {act}"
    headline_separator: str = " - "
    editor: EditorConfig
    templates: Path | None = Field(
        default=None, description="Folder whose templates override the built-in ones."
    )
    section_cap: int = Field(default=8, ge=1, le=100)
    archive_dir: Path = Path("archive")
    caveat: str = (
        "All information is subject to statutory commencement orders and implementation frameworks."
    )

    @field_validator("seasons")
    @classmethod
    def _seasons_cover_the_year(cls, seasons: dict[str, list[int]]) -> dict[str, list[int]]:
        seen: list[int] = []
        for name, months in seasons.items():
            if not months:
                raise ValueError(f"season {name!r} has no months")
            for previous, month in itertools.pairwise(months):
                if month != previous % 12 + 1:
                    raise ValueError(f"season {name!r}: months must be consecutive")
            seen.extend(months)
        if sorted(seen) != list(MONTHS):
            raise ValueError("seasons must cover each month 1-12 exactly once")
        return seasons

    @field_validator("title_pattern")
    @classmethod
    def _known_placeholders(cls, pattern: str) -> str:
        allowed = {"season", "Season", "year", "years", "act"}
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(pattern) if f is not None]
        except ValueError as exc:
            raise ValueError(f"bad pattern: {exc}") from None
        for field in fields:
            if field not in allowed:
                raise ValueError(
                    f"unknown placeholder {{{field}}} (use {', '.join(sorted(allowed))})"
                )
        return pattern


class MailConfig(StrictModel):
    url: str = "maildir:mail"
    from_: Email = Field(alias="from")
    from_name: str | None = None
    reply_to: Email | None = None
    unsubscribe_mailto: Email | None = None
    username_env: str = "ACTWATCH_SMTP_USERNAME"
    password_env: str = "ACTWATCH_SMTP_PASSWORD"
    connections: int = Field(default=4, ge=1, le=64)
    rate_limit: float | None = Field(default=None, gt=0, description="Messages per second.")
    dkim_selector: str | None = None
    dkim_key_env: str = "ACTWATCH_DKIM_PRIVATE_KEY"
    dkim_domain: str | None = Field(
        default=None, description="The signing domain; default: the From address's domain."
    )
    list_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$",
        description="The List-Id (RFC 2919); default: the From address as local.domain.",
    )
    batch_size: int = Field(default=200, ge=1, le=10_000, description="Deliveries per claim.")
    max_attempts: int = Field(
        default=5, ge=1, le=50, description="Tries of a message the server deferred (4xx)."
    )
    retry_backoff: Duration = Field(
        default=timedelta(minutes=5), description="Wait before the first retry; doubles after."
    )

    @field_validator("url")
    @classmethod
    def _mail_url(cls, url: str) -> str:
        if url.startswith("maildir:"):
            if not url.removeprefix("maildir:"):
                raise ValueError("maildir: needs a path")
            return url
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtp+starttls", "smtps") or not parts.hostname:
            raise ValueError(
                "use smtp://host:port, smtp+starttls://..., smtps://... or maildir:PATH"
            )
        if parts.username or parts.password:
            raise ValueError("credentials must come from environment variables, not the URL")
        try:
            parts.port  # noqa: B018 - the property validates the port
        except ValueError:
            raise ValueError("bad port") from None
        return url

    @property
    def maildir(self) -> Path | None:
        return Path(self.url.removeprefix("maildir:")) if self.url.startswith("maildir:") else None


class WebConfig(StrictModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    base_url: HttpURL = "http://127.0.0.1:8080"
    secret_key_env: str = "ACTWATCH_SECRET_KEY"
    confirm_within: Duration = Field(
        default=timedelta(days=7), description="How long a subscription's confirmation link works."
    )
    trusted_proxies: list[str] = Field(
        default=["127.0.0.1", "::1"],
        description="Addresses (or networks) of reverse proxies whose X-Forwarded-For is believed.",
    )
    session_idle: Duration = Field(
        default=timedelta(hours=2), description="An editor unseen this long is logged out."
    )
    session_lifetime: Duration = Field(
        default=timedelta(hours=12), description="An editor's session ends this long after login."
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, entries: list[str]) -> list[str]:
        for index, entry in enumerate(entries):
            try:
                ipaddress.ip_network(str(entry).strip(), strict=False)
            except ValueError:
                raise ValueError(f"[{index}]: {entry!r} is not an IP address or network") from None
        return [str(entry).strip() for entry in entries]

    @model_validator(mode="after")
    def _session_times(self) -> Self:
        if self.session_idle > self.session_lifetime:
            raise ValueError("session_idle cannot be longer than session_lifetime")
        return self


class ScheduleConfig(StrictModel):
    timezone: str = "Europe/London"
    poll_interval: Duration = timedelta(hours=1)
    draft_after: Duration = Field(
        default=timedelta(days=1), description="How long after a season ends its draft is compiled."
    )
    draft_at: time = Field(default=time(9, 0), description="Local time of day for the draft.")
    send_check_interval: Duration = timedelta(minutes=1)
    housekeeping_at: time = Field(
        default=time(3, 30), description="Local time of day for the nightly housekeeping."
    )
    # Retention (null keeps forever): what the nightly housekeeping deletes or erases.
    delivery_retention: Duration | None = Field(
        default=timedelta(days=400),
        description="Delivery rows of bulletins sent longer ago than this are deleted.",
    )
    unsubscribed_retention: Duration | None = Field(
        default=timedelta(days=30),
        description="Unsubscribed and bounced subscribers are erased after this long.",
    )
    pending_retention: Duration | None = Field(
        default=timedelta(days=30),
        description="Sign-ups never confirmed are deleted this long after they were made.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}") from None
        return name

    @field_validator("poll_interval", "send_check_interval")
    @classmethod
    def _at_least_a_second(cls, interval: timedelta) -> timedelta:
        if interval < timedelta(seconds=1):
            raise ValueError("must be at least 1s")
        return interval

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class DatabaseConfig(StrictModel):
    url: str = "sqlite:///actwatch.db"

    @field_validator("url")
    @classmethod
    def _sqlalchemy_url(cls, url: str) -> str:
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise ValueError("not an SQLAlchemy URL (e.g. sqlite:///actwatch.db)") from None
        if parsed.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError("only sqlite and postgresql databases are supported")
        return url


class Config(StrictModel):
    act: ActConfig
    strands: dict[Slug, StrandConfig] = Field(min_length=1)
    themes: dict[Slug, ThemeConfig] = {}
    event_types: dict[Slug, EventTypeConfig]
    matching: MatchingConfig = MatchingConfig()
    feeds: list[FeedConfig] = []
    fetch: FetchConfig
    bulletin: BulletinConfig
    mail: MailConfig
    web: WebConfig = WebConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    database: DatabaseConfig = DatabaseConfig()
    # Where the file was read from: every relative path resolves against its folder.
    path: Path | None = Field(default=None, exclude=True)

    @field_validator("event_types")
    @classmethod
    def _all_event_types(cls, types: dict[str, EventTypeConfig]) -> dict[str, EventTypeConfig]:
        missing = [slug for slug in EVENT_TYPE_SLUGS if slug not in types]
        if missing:
            raise ValueError(f"missing announcement types: {', '.join(missing)}")
        unknown = [slug for slug in types if slug not in EVENT_TYPE_SLUGS]
        if unknown:
            raise ValueError(
                f"unknown announcement types: {', '.join(unknown)} "
                f"(use {', '.join(EVENT_TYPE_SLUGS)})"
            )
        return types

    @field_validator("feeds")
    @classmethod
    def _unique_feed_names(cls, feeds: list[FeedConfig]) -> list[FeedConfig]:
        names = [feed.name for feed in feeds]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"feed names must be unique: {', '.join(duplicates)}")
        return feeds

    @model_validator(mode="after")
    def _themes_name_known_strands(self) -> Self:
        for theme_slug, theme in self.themes.items():
            for index, strand in enumerate(theme.strands):
                if strand not in self.strands:
                    raise ValueError(
                        f"themes.{theme_slug}.strands[{index}]: unknown strand {strand!r}"
                    )
        for name, publisher in self.matching.publishers.items():
            for index, strand in enumerate(publisher.strands):
                if strand not in self.strands:
                    raise ValueError(
                        f"matching.publishers.{name}.strands[{index}]: unknown strand {strand!r}"
                    )
        return self

    @property
    def folder(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def resolve(self, path: Path | str) -> Path:
        path = Path(path).expanduser()
        return path if path.is_absolute() else (self.folder / path).resolve()

    @property
    def database_url(self) -> str:
        """The database URL with a relative SQLite path made absolute against the config folder."""
        url = make_url(self.database.url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            assert url.database is not None
            if not url.database.startswith("file:"):
                url = url.set(database=str(self.resolve(url.database)))
        return url.render_as_string(hide_password=False)

    @property
    def maildir(self) -> Path | None:
        maildir = self.mail.maildir
        return self.resolve(maildir) if maildir else None

    @property
    def templates_dir(self) -> Path | None:
        return self.resolve(self.bulletin.templates) if self.bulletin.templates else None

    @property
    def archive_dir(self) -> Path:
        return self.resolve(self.bulletin.archive_dir)

    def feed(self, name: str) -> FeedConfig:
        for feed in self.feeds:
            if feed.name == name:
                return feed
        raise KeyError(name)
