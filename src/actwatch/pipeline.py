"""The verbs actwatch performs, each written once: poll and match, draft and notify, approve, send.

The faces (the CLI, the service's jobs, the web editor, the demo) call these and only say how it
went; none of them strings the stages together itself. Each verb is safe to repeat: the stages
underneath are idempotent and the database decides what is left to do.

    poll_and_match      feeds -> items -> verdicts
    draft_and_notify    verdicts -> the season's draft -> one email to the editor
    approve             the draft as it is now -> the frozen copy subscribers get
    send                the frozen copy -> every confirmed subscriber (delivery's run)
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from actwatch.config import Config
from actwatch.core import clock
from actwatch.core.words import plural
from actwatch.feeds.poll import Poller, PollReport, ProgressCallback
from actwatch.matching.instruments import InstrumentFetcher
from actwatch.matching.matcher import Matcher
from actwatch.matching.parallel import WORKER_MODULES
from actwatch.matching.store import ClassifyReport, classify_pending, load_matcher
from actwatch.matching.store import reclassify as reclassify_items

if TYPE_CHECKING:
    # The later stages are imported by the verbs that use them: a poll (every few minutes, as
    # a process of its own from cron) does not load the renderer, the review or the delivery.
    from actwatch.bulletin import Season
    from actwatch.bulletin.store import DraftResult
    from actwatch.delivery import SendReport
    from actwatch.review import approve as approve  # the pipeline's approve verb is review's

FORMATS = ("html", "text", "markdown")


# Poll and match.


@dataclass
class Polled:
    """One pass over the feeds and the matching of what it brought."""

    poll: PollReport
    matching: ClassifyReport | None  # None: stopped before matching (the next pass matches)
    seconds: float = 0.0  # the whole verb: the pass, then matching

    def as_dict(self) -> dict[str, Any]:
        classify = self.matching.seconds if self.matching else 0.0
        return {
            **self.poll.as_dict(),
            "seconds": round(self.seconds, 3),
            # Fetch, parse and store overlap within the pass; classify follows it.
            "seconds_by_step": {**self.poll.seconds_by_step(), "classify": round(classify, 3)},
            "matching": self.matching.as_dict() if self.matching else None,
        }


def poll_and_match(
    engine: Engine,
    config: Config,
    *,
    feed_names: Collection[str] | None = None,
    force: bool = False,
    progress: ProgressCallback | None = None,
    now: datetime | None = None,
    poller: Poller | None = None,
    stop: threading.Event | None = None,
) -> Polled | None:
    """One pass over the feeds that are due (or the named ones), then match new and changed items.

    `poller`: one kept between passes (the service's), else one made for this pass. `stop`: when
    it is set the pass is cancelled (every feed already stored stays stored, whole) and None is
    returned; set after the pass, matching waits for the next one.
    Raises UnknownFeedError for a feed name the config does not have.
    """
    started = time.perf_counter()
    # The matcher (the rules, the learned scorer from its cache) is loaded while the pass waits
    # on the network: it reads nothing the pass writes, and the verdicts are the same.
    matcher = _MatcherLoader(engine, config)
    own = poller is None
    current = poller or new_poller(engine, config)
    try:
        report = _poll_pass(current, feed_names, force, progress, clock.utc(now), stop)
        if report is None:
            return None
        if stop is not None and stop.is_set():
            return Polled(report, None, time.perf_counter() - started)
        matching_started = time.perf_counter()
        # The pass's parse workers are idle now: a large batch of items is classified there.
        matching = classify_pending(
            engine,
            config,
            matcher=matcher.result(),
            executor=current.parse_pool.running_executor(),
            workers=current.parse_pool.workers,
        )
        # The matching after the pass: waiting for the matcher if it was not ready, then matching.
        matching.seconds = time.perf_counter() - matching_started
    finally:
        if own:
            current.close()
    return Polled(report, matching, time.perf_counter() - started)


def new_poller(engine: Engine, config: Config) -> Poller:
    """A poller whose parse workers can classify too (see `poll_and_match`): keep one for a
    service, so that the workers outlive a pass."""
    return Poller(engine, config, worker_preload=WORKER_MODULES)


class _MatcherLoader:
    """`load_matcher` in a thread of its own. A daemon: a pass stopped for a shutdown does not
    wait for it (a model it was caching is rolled back with its transaction)."""

    def __init__(self, engine: Engine, config: Config) -> None:
        self._matcher: Matcher | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._load, args=(engine, config), name="actwatch-matcher", daemon=True
        )
        self._thread.start()

    def _load(self, engine: Engine, config: Config) -> None:
        try:
            self._matcher = load_matcher(engine, config)
        except BaseException as exc:  # raised again in the thread that asks for the matcher
            self._error = exc

    def result(self) -> Matcher:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._matcher is not None
        return self._matcher


def _poll_pass(
    poller: Poller,
    feed_names: Collection[str] | None,
    force: bool,
    progress: ProgressCallback | None,
    now: datetime,
    stop: threading.Event | None,
) -> PollReport | None:
    if stop is None:
        return poller.poll(feed_names=feed_names, progress=progress, force=force, now=now)

    async def run() -> PollReport | None:
        task = asyncio.ensure_future(
            poller.poll_async(feed_names=feed_names, progress=progress, force=force, now=now)
        )
        while not task.done():
            if stop.is_set():
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    return None
                break
            await asyncio.wait({task}, timeout=0.1)
        return task.result()

    return asyncio.run(run())


def reclassify(engine: Engine, config: Config, *, offline: bool = False) -> ClassifyReport:
    """Match every stored item again under the current rules (an editor's decision is kept).

    `offline` (or `matching.fetch_instruments: false`): instrument texts come from the cache only.
    """
    fetcher = None
    if offline or not config.matching.fetch_instruments:
        fetcher = InstrumentFetcher.from_config(config, allowed_hosts=frozenset())
    try:
        return reclassify_items(engine, config, fetcher=fetcher)
    finally:
        if fetcher is not None:
            fetcher.close()


# Draft and notify.


@dataclass(frozen=True)
class Notified:
    told: bool = False  # the editor was emailed just now (once per draft)
    error: str | None = None  # the email failed: the next attempt tries again


@dataclass(frozen=True)
class Drafted:
    draft: DraftResult
    notified: Notified = Notified()


def draft_and_notify(
    engine: Engine,
    config: Config,
    season: Season | None = None,
    *,
    now: datetime | None = None,
    notify: bool = True,
    issued_on: date | None = None,
) -> Drafted:
    """Create the season's draft (default: the season that ended last) or refresh it with newly
    relevant items, then email the editor a link to it, once per draft.

    A failed email does not undo the draft: it is reported in `notified.error` and the next call
    tries again. Raises BulletinError when the season's bulletin is past drafting, and its
    NothingToDraft (creating nothing, telling nobody) for a season not begun or without news.
    `issued_on`: a new draft's issue date, set ahead (by default, the day it is approved).
    """
    from actwatch.bulletin import last_ended_season
    from actwatch.bulletin.store import draft_bulletin

    moment = clock.utc(now)
    season = season or last_ended_season(config, moment)
    draft = draft_bulletin(engine, config, season, moment, issued_on=issued_on)
    if not notify:
        return Drafted(draft)
    return Drafted(draft, notify_editor(engine, config, draft.bulletin_id, now=moment))


def notify_editor(
    engine: Engine, config: Config, bulletin_id: int, *, now: datetime | None = None
) -> Notified:
    """Email the editor about a draft unless they were told already; a mail failure is
    reported, not raised (the draft stands, and the next attempt tries again)."""
    from actwatch.mail import MailError
    from actwatch.review import notify_draft_ready

    try:
        told = notify_draft_ready(engine, config, bulletin_id, now=now)
    except (MailError, OSError) as exc:
        return Notified(error=str(exc) or type(exc).__name__)
    return Notified(told=told)


# Approve: review's own verb (it freezes the bulletin, composed and rendered once, and
# approves exactly that) is the pipeline's, imported on first use (see __getattr__ below).


def __getattr__(name: str) -> Any:
    if name == "approve":
        from actwatch.review import approve

        globals()["approve"] = approve
        return approve
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Send.


def send(
    engine: Engine,
    config: Config,
    bulletin_id: int,
    *,
    actor: str,
    stop: threading.Event | None = None,
    env: Mapping[str, str] | None = None,
    **options: Any,
) -> SendReport:
    """Send (or carry on sending) an approved bulletin to every confirmed subscriber; see
    `actwatch.delivery.send_bulletin` for the options."""
    from actwatch.delivery import send_bulletin

    return send_bulletin(engine, config, bulletin_id, actor=actor, stop=stop, env=env, **options)


# Show.


def render(
    engine: Engine, config: Config, reference: int | str, formats: Iterable[str] = FORMATS
) -> dict[str, str]:
    """A stored bulletin (its id or season) as the editor reviews it, composed once: `html` and
    `text` (the email, sections capped) and `markdown` (the archive post, everything)."""
    from actwatch.bulletin import (
        BulletinError,
        load_bulletin,
        preview_links,
        render_html,
        render_markdown,
        render_text,
    )

    composed = load_bulletin(engine, config, reference)
    links = preview_links(config, composed.season.slug)
    renderers = {"html": render_html, "text": render_text, "markdown": render_markdown}
    wanted = list(formats)
    unknown = set(wanted) - set(renderers)
    if unknown:
        raise BulletinError(
            f"unknown {plural(len(unknown), 'format')}: {', '.join(sorted(unknown))}"
        )
    return {kind: renderers[kind](composed, links, config=config) for kind in wanted}
