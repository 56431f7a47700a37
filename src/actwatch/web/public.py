"""The public pages: subscribe (double opt-in), preferences, unsubscribe (with the one-click
POST of RFC 8058) and the web archive of sent bulletins with its Atom feed.

No page here needs a login or a cookie. The subscriber's own pages are authorised by the signed
token in their URL; the one-click endpoint takes a POST from a mail provider (no cookie, no CSRF
token) and answers 200 without a redirect. The subscribe and "email me my links" forms carry a
signed, timed form token instead of a session, and a honeypot field.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from actwatch.config import Config
from actwatch.db.schema import bulletins
from actwatch.delivery.compose import SiteLinks, reader_headers, sender
from actwatch.mail import Address, MailError, build_message
from actwatch.subscribers import (
    AddressError,
    Subscriber,
    SubscriberError,
    TokenError,
    Tokens,
    confirm,
    sign_up,
    update_preferences,
)
from actwatch.subscribers.store import CONFIRMED, by_link, find_subscriber, unsubscribe

FORM_MAX_AGE = timedelta(hours=12)
ARCHIVED = ("sending", "sent")
PUBLIC_CSP = (
    "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' https: data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
# The email as sent carries its own inline styles; nothing in it may run.
EMAIL_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "sandbox allow-popups allow-popups-to-escape-sandbox; frame-ancestors 'self'"
)
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_ANCHOR = re.compile(r"\s*\{#([a-z0-9-]+)\}\s*$")
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)


def _config(request: Request) -> Config:
    config: Config = request.app.state.config
    return config


def _tokens(request: Request) -> Tokens:
    tokens: Tokens = request.app.state.tokens
    return tokens


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    config = _config(request)
    html = request.app.state.templates.get_template(template).render(
        act=config.act, strands=config.strands, **context
    )
    return HTMLResponse(html, status_code=status, headers={"Content-Security-Policy": PUBLIC_CSP})


def message(
    request: Request,
    heading: str,
    *paragraphs: str,
    status: int = 200,
    links: list[tuple[str, str]] | None = None,
) -> HTMLResponse:
    return page(
        request,
        "public/message.html",
        status=status,
        heading=heading,
        paragraphs=paragraphs,
        links=links or [],
    )


def invalid_link(request: Request) -> HTMLResponse:
    return message(
        request,
        "This link does not work",
        "It may have been mistyped, cut short by your mail program, or replaced by a newer one.",
        "Every bulletin ends with your current links; you can also ask for them by email.",
        status=404,
        links=[("Email me my links", "/manage")],
    )


def _summary(config: Config, subscriber: Subscriber) -> str:
    if subscriber.all_strands:
        return "every strand"
    return ", ".join(config.strands[s].name for s in subscriber.strands if s in config.strands)


async def _form(request: Request) -> dict[str, Any]:
    form = await request.form()
    return {
        "email": str(form.get("email", "")).strip()[:320],
        "name": str(form.get("name", "")).strip()[:200],
        "strands": [str(s) for s in form.getlist("strands")][:50],
        "token": str(form.get("form_token", "")),
        "honeypot": str(form.get("website", "")),
        "one_click": str(form.get("List-Unsubscribe", "")),
    }


def _send(request: Request, to: str, subject: str, text: str, headers: dict[str, str]) -> None:
    config = _config(request)
    mail = build_message(
        sender=sender(config),
        to=Address(to),
        reply_to=Address(config.mail.reply_to) if config.mail.reply_to else None,
        subject=subject,
        text=text,
        headers=headers,
    )
    with request.app.state.transport_factory() as transport:
        transport.send(mail)


# Subscribe and confirm.


async def subscribe(request: Request) -> Response:
    config = _config(request)
    tokens = _tokens(request)
    if request.method == "GET":
        return page(
            request,
            "public/subscribe.html",
            form_token=tokens.form_token("subscribe"),
            email="",
            name="",
            chosen=set(),
            error=None,
        )
    form = await _form(request)

    def again(error: str, status: int = 400) -> HTMLResponse:
        return page(
            request,
            "public/subscribe.html",
            status=status,
            form_token=tokens.form_token("subscribe"),
            email=form["email"],
            name=form["name"],
            chosen=set(form["strands"]),
            error=error,
        )

    if not tokens.form_token_ok(form["token"], "subscribe", FORM_MAX_AGE):
        return again("The form had expired: please try again.", 403)
    if form["honeypot"]:
        return _check_inbox(request)  # a bot: say nothing different, send nothing
    try:
        from actwatch.subscribers.store import choice_from, resolve_strands

        strands = choice_from(config, resolve_strands(config, form["strands"]))
        engine = request.app.state.engine
        address = request.client.host if request.client else "unknown"
        moment = datetime.now(UTC)
        result = await run_in_threadpool(
            sign_up,
            engine,
            config,
            form["email"],
            name=form["name"] or None,
            strands=strands,
            source=f"web form at {moment:%Y-%m-%dT%H:%M:%SZ} from {address}",
            now=moment,
        )
    except (AddressError, SubscriberError) as exc:
        return again(f"{exc}.")
    if result.send_confirmation:
        subscriber = result.subscriber
        base = SiteLinks.from_config(config).base
        token = tokens.confirm_token(subscriber.id, subscriber.token_nonce)
        link = f"{base}/subscribe/confirm/{token}"
        days = config.web.confirm_within.days or 1
        text = (
            f"Someone (we hope you) asked for the {config.act.short_name} seasonal bulletin to be "
            f"sent to {subscriber.email}.\n\nTo confirm, open this link within {days} day(s):\n"
            f"{link}\n\nIf it was not you, ignore this message: nothing more will be sent.\n"
        )
        try:
            await run_in_threadpool(
                _send,
                request,
                subscriber.email,
                f"Confirm your subscription: {config.act.short_name} bulletin",
                text,
                {},
            )
        except MailError:
            return again("We could not send the confirmation email just now: try again later.", 503)
    return _check_inbox(request)


def _check_inbox(request: Request) -> HTMLResponse:
    # The same answer whether the address was new, pending or already subscribed: the form
    # must not tell a stranger who subscribes.
    return message(
        request,
        "Check your inbox",
        "If that address can receive the bulletin, we have emailed it a link to confirm. "
        "Follow it to start receiving the bulletin.",
    )


async def confirm_page(request: Request) -> Response:
    config = _config(request)
    token = request.path_params["token"]
    try:
        claim = _tokens(request).read_confirm_token(token, config.web.confirm_within)
    except TokenError as exc:
        return message(
            request,
            "This confirmation link does not work",
            str(exc),
            status=404,
            links=[("Subscribe", "/subscribe")],
        )
    engine = request.app.state.engine
    if request.method == "GET":
        # Confirm only on POST: mail scanners open links, they do not press buttons.
        subscriber = await run_in_threadpool(by_link, engine, claim.subscriber_id, claim.nonce)
        if subscriber is None:
            return invalid_link(request)
        return page(request, "public/confirm.html", subscriber=subscriber, action=request.url.path)
    try:
        subscriber = await run_in_threadpool(confirm, engine, claim.subscriber_id, claim.nonce)
    except SubscriberError as exc:
        return message(request, "This confirmation link does not work", str(exc), status=404)
    link = _tokens(request).link_token(subscriber.id, subscriber.token_nonce)
    return message(
        request,
        "You are subscribed",
        f"The next {config.act.short_name} bulletin will reach {subscriber.email}, covering "
        f"{_summary(config, subscriber)}.",
        links=[("Choose your strands", f"/preferences/{link}"), ("Read the archive", "/archive/")],
    )


# The subscriber's own pages.


def _reader(request: Request) -> Subscriber | None:
    try:
        claim = _tokens(request).read_link_token(request.path_params["token"])
    except TokenError:
        return None
    return by_link(request.app.state.engine, claim.subscriber_id, claim.nonce)


async def preferences(request: Request) -> Response:
    config = _config(request)
    subscriber = await run_in_threadpool(_reader, request)
    if subscriber is None:
        return invalid_link(request)
    saved, error = False, None
    if request.method == "POST":
        form = await _form(request)
        try:
            from actwatch.subscribers.store import resolve_strands

            chosen = resolve_strands(config, form["strands"]) or tuple(config.strands)
            subscriber = await run_in_threadpool(
                update_preferences, request.app.state.engine, config, subscriber.id, chosen
            )
            saved = True
        except SubscriberError as exc:
            error = str(exc)
    chosen_now = set(config.strands) if subscriber.all_strands else set(subscriber.strands)
    return page(
        request,
        "public/preferences.html",
        subscriber=subscriber,
        chosen=chosen_now,
        summary=_summary(config, subscriber),
        saved=saved,
        error=error,
        action=request.url.path,
        unsubscribe=request.url.path.replace("/preferences/", "/unsubscribe/", 1),
    )


async def unsubscribe_page(request: Request) -> Response:
    subscriber = await run_in_threadpool(_reader, request)
    if request.method == "GET":
        if subscriber is None:
            return invalid_link(request)
        return page(
            request,
            "public/unsubscribe.html",
            subscriber=subscriber,
            action=request.url.path,
            preferences=request.url.path.replace("/unsubscribe/", "/preferences/", 1),
        )
    form = await _form(request)
    one_click = form["one_click"] == "One-Click"
    if subscriber is None:
        if one_click:
            return PlainTextResponse("This unsubscribe link is not valid.", status_code=404)
        return invalid_link(request)

    await run_in_threadpool(unsubscribe, request.app.state.engine, subscriber.id)
    if one_click:
        # RFC 8058: the mail provider posts for the reader; a plain 200, no redirect.
        return PlainTextResponse(f"{subscriber.email} is unsubscribed.", status_code=200)
    return message(
        request,
        "You are unsubscribed",
        f"Nothing more will be sent to {subscriber.email}.",
        "Changed your mind? You can subscribe again at any time.",
        links=[("Subscribe again", "/subscribe")],
    )


async def manage(request: Request) -> Response:
    """Lost links: email them to the address if it is subscribed (same answer either way)."""
    config = _config(request)
    tokens = _tokens(request)
    if request.method == "GET":
        return page(request, "public/manage.html", form_token=tokens.form_token("manage"))
    form = await _form(request)
    if not tokens.form_token_ok(form["token"], "manage", FORM_MAX_AGE) or form["honeypot"]:
        return page(
            request, "public/manage.html", status=403, form_token=tokens.form_token("manage")
        )
    engine = request.app.state.engine
    subscriber = await run_in_threadpool(find_subscriber, engine, form["email"])
    if subscriber is not None and subscriber.status == CONFIRMED:
        links = SiteLinks.from_config(config)
        token = tokens.link_token(subscriber.id, subscriber.token_nonce)
        text = (
            f"Your links for the {config.act.short_name} bulletin:\n\n"
            f"Choose your strands: {links.preferences(token)}\n"
            f"Unsubscribe: {links.unsubscribe(token)}\n"
        )
        # Whatever happens, the answer must not reveal whether the address is subscribed.
        with contextlib.suppress(MailError):
            await run_in_threadpool(
                _send,
                request,
                subscriber.email,
                f"Your {config.act.short_name} bulletin links",
                text,
                reader_headers(config, "", token),
            )
    return message(
        request,
        "Check your inbox",
        "If that address is subscribed, we have emailed it your links.",
    )


# The archive, from the frozen copies only.


@dataclass(frozen=True)
class Issue:
    season: str
    title: str
    date: str
    published: str
    markdown: str
    html_email: str

    @property
    def html(self) -> Markup:
        return markdown_page(self.markdown)


def _title(markdown: str, fallback: str) -> str:
    found = re.search(r'^title: "(.*)"$', markdown, re.M)
    if not found:
        return fallback
    return found.group(1).replace('\\"', '"').replace("\\\\", "\\")


def markdown_page(markdown: str) -> Markup:
    """The archive post as HTML: front matter dropped, kramdown's {#id} anchors kept as ids."""
    body = _FRONT_MATTER.sub("", markdown, count=1)
    tokens = _MARKDOWN.parse(body)
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and index + 1 < len(tokens):
            inline = tokens[index + 1]
            found = _ANCHOR.search(inline.content)
            if found:
                token.attrSet("id", found.group(1))
                inline.content = _ANCHOR.sub("", inline.content)
                if inline.children:
                    last = inline.children[-1]
                    last.content = _ANCHOR.sub("", last.content)
    html = _MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {})
    return Markup(html)  # noqa: S704 - markdown-it with raw HTML off escapes everything


def load_issues(request: Request, season: str | None = None) -> list[Issue]:
    query = (
        select(
            bulletins.c.season,
            bulletins.c.frozen_markdown,
            bulletins.c.frozen_html,
            bulletins.c.send_started_at,
            bulletins.c.sent_at,
            bulletins.c.approved_at,
        )
        .where(bulletins.c.state.in_(ARCHIVED), bulletins.c.frozen_markdown.is_not(None))
        .order_by(bulletins.c.send_started_at.desc(), bulletins.c.id.desc())
    )
    if season is not None:
        query = query.where(bulletins.c.season == season)
    with request.app.state.engine.connect() as connection:
        rows = connection.execute(query).all()
    zone = _config(request).schedule.zone
    issues = []
    for row in rows:
        moment: datetime = row.send_started_at or row.sent_at or row.approved_at
        issues.append(
            Issue(
                season=row.season,
                title=_title(row.frozen_markdown, row.season),
                date=f"{moment.astimezone(zone):%-d %B %Y}",
                published=moment.astimezone(UTC).isoformat(),
                markdown=row.frozen_markdown,
                html_email=row.frozen_html,
            )
        )
    return issues


async def archive_index(request: Request) -> Response:
    issues = await run_in_threadpool(load_issues, request)
    response = page(request, "public/archive.html", issues=issues, robots="index")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


async def archive_issue(request: Request) -> Response:
    season = request.path_params["season"]
    markdown = season.endswith(".md")
    found = await run_in_threadpool(load_issues, request, season.removesuffix(".md"))
    if not found:
        return message(
            request,
            "No such bulletin",
            "It has not been sent, or never existed.",
            status=404,
            links=[("The archive", "/archive/")],
        )
    issue = found[0]
    if markdown:
        response: Response = PlainTextResponse(
            issue.markdown, media_type="text/markdown; charset=utf-8"
        )
    else:
        response = page(
            request,
            "public/issue.html",
            title=issue.title,
            date=issue.date,
            season=issue.season,
            body=issue.html,
            robots="index",
        )
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


async def archive_email(request: Request) -> Response:
    found = await run_in_threadpool(load_issues, request, request.path_params["season"])
    if not found:
        return PlainTextResponse("No such bulletin.", status_code=404)
    return HTMLResponse(
        found[0].html_email,
        headers={"Content-Security-Policy": EMAIL_CSP, "Cache-Control": "public, max-age=300"},
    )


async def archive_feed(request: Request) -> Response:
    config = _config(request)
    issues = await run_in_threadpool(load_issues, request)
    updated = issues[0].published if issues else datetime(2000, 1, 1, tzinfo=UTC).isoformat()
    xml = request.app.state.templates.get_template("public/feed.xml").render(
        act=config.act,
        base=SiteLinks.from_config(config).base,
        editor=config.bulletin.editor.name,
        updated=updated,
        issues=issues,
    )
    return Response(
        xml,
        media_type="application/atom+xml; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )


def routes() -> list[Route]:
    return [
        Route("/subscribe", subscribe, methods=["GET", "POST"]),
        Route("/subscribe/confirm/{token}", confirm_page, methods=["GET", "POST"]),
        Route("/preferences/{token}", preferences, methods=["GET", "POST"]),
        Route("/unsubscribe/{token}", unsubscribe_page, methods=["GET", "POST"]),
        Route("/manage", manage, methods=["GET", "POST"]),
        Route("/preferences", manage, methods=["GET"]),
        Route("/unsubscribe", manage, methods=["GET"]),
        Route("/archive/", archive_index),
        Route("/archive/feed.atom", archive_feed),
        Route("/archive/{season}/email", archive_email),
        Route("/archive/{season}", archive_issue),
    ]
