"""Tell the editor a draft is ready: one email with a link to the web editor, and a log line.

`bulletins.editor_notified_at` is claimed before sending (a compare-and-set), so the editor hears
once however often the draft is refreshed or the command repeated; a failed send releases the
claim so the next run tries again.
"""

from __future__ import annotations

import logging
from datetime import datetime

from markupsafe import escape
from sqlalchemy import Engine

from actwatch.config import Config
from actwatch.core.clock import utc
from actwatch.mail import Address, Transport, build_message, open_transport
from actwatch.review.records import claim_notification, release_notification
from actwatch.review.view import build_review

log = logging.getLogger(__name__)


def editor_link(config: Config, bulletin_id: int) -> str:
    return f"{str(config.web.base_url).rstrip('/')}/editor/bulletins/{bulletin_id}"


def sender(config: Config) -> Address:
    return Address(config.mail.from_, config.mail.from_name)


def notify_draft_ready(
    engine: Engine,
    config: Config,
    bulletin_id: int,
    *,
    transport: Transport | None = None,
    now: datetime | None = None,
) -> bool:
    """Email the editor about the draft once; False when they were already told."""
    moment = utc(now)
    if not claim_notification(engine, bulletin_id, moment):
        return False
    try:
        review = build_review(engine, config, bulletin_id, now=moment)
        link = editor_link(config, bulletin_id)
        editor = config.bulletin.editor
        lines = [
            f"Hello {editor.name},",
            "",
            f"The {review.season_label} bulletin is drafted and ready for your review: "
            f"{review.item_count} announcement(s).",
            "",
            "Review, edit and approve it here:",
            link,
        ]
        if review.warnings:
            lines += ["", "Before you approve it:", *(f"- {w}" for w in review.warnings)]
        lines += ["", "Nothing is sent to subscribers until you approve it.", "", "actwatch"]
        text = "\n".join(lines) + "\n"
        warnings = "".join(f"<li>{escape(w)}</li>" for w in review.warnings)
        html = (
            f"<p>Hello {escape(editor.name)},</p>"
            f"<p>The {escape(review.season_label)} bulletin is drafted and ready for your review: "
            f"{review.item_count} announcement(s).</p>"
            f'<p><a href="{escape(link)}">Review, edit and approve it</a></p>'
            + (f"<p>Before you approve it:</p><ul>{warnings}</ul>" if warnings else "")
            + "<p>Nothing is sent to subscribers until you approve it.</p>"
        )
        message = build_message(
            sender=sender(config),
            to=Address(editor.email, editor.name),
            subject=f"Draft ready for review: {review.title}",
            text=text,
            html=html,
            date=moment,
        )
        if transport is None:
            with open_transport(config) as opened:
                opened.send(message)
        else:
            transport.send(message)
    except BaseException:
        release_notification(engine, bulletin_id, moment)
        raise
    log.warning(
        "Draft bulletin %s (%s) is ready for review; told %s: %s",
        bulletin_id,
        review.season,
        editor.email,
        link,
    )
    return True
