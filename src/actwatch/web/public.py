"""The public pages: subscribe (double opt-in), preferences, unsubscribe (with the one-click
POST of RFC 8058) and the web archive of sent bulletins with its Atom feed.

No page here needs a login or a cookie. The subscriber's own pages are authorised by the signed
token in their URL; the one-click endpoint takes a POST from a mail provider (no cookie, no CSRF
token) and answers 200 without a redirect. The subscribe and "email me my links" forms carry a
signed, timed form token instead of a session, and a honeypot field.

GET and HEAD never change anything: mail scanners and link previews fetch every link, so
confirming and unsubscribing need the button on the page (a POST). The forms answer the same
status and page whoever the address belongs to, and their mail is queued and sent after the
answer (`subscribers.outbox`), so neither the answer nor its timing tells a stranger who is
subscribed, and a slow or broken mail server changes nothing a visitor can see. Each form is
rate-limited per client and per address, with a 429 page.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from actwatch.bulletin.markdown import archive_html
from actwatch.config import Config
from actwatch.core.emails import EmailError, normalise_email
from actwatch.review.records import published_copies
from actwatch.subscribers import Subscriber, SubscriberError, TokenError, Tokens, update_preferences
from actwatch.subscribers.links import PublicLinks
from actwatch.subscribers.requests import (
    confirm_subscription,
    request_links,
    request_subscription,
)
from actwatch.subscribers.store import by_link, choice_from, resolve_strands, unsubscribe
from actwatch.web.limits import FormLimits, client_address

FORM_MAX_AGE = timedelta(hours=12)
# The sign-up and "email me my links" forms answer after at least this long, whatever they did:
# a new address costs a few more database writes than a known one, and that difference must not
# show in the timing either.
STEADY_ANSWER = 0.25
PUBLIC_CSP = (
    "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' https: data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
# The email as sent carries its own inline styles; nothing in it may run.
EMAIL_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "sandbox allow-popups allow-popups-to-escape-sandbox; frame-ancestors 'self'"
)
_FRONT_MATTER_TITLE = re.compile(r'^title: (".*")$', re.M)


def _config(request: Request) -> Config:
    config: Config = request.app.state.config
    return config


def _tokens(request: Request) -> Tokens:
    tokens: Tokens = request.app.state.tokens
    return tokens


def _limits(request: Request) -> FormLimits:
    limits: FormLimits = request.app.state.form_limits
    return limits


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


def too_many(request: Request, retry_after: float) -> HTMLResponse:
    minutes = max(1, -(-int(retry_after) // 60))
    response = message(
        request,
        "Too many requests",
        "This form has been sent too often from here, or for this address.",
        f"Please try again in {minutes} minute{'s' if minutes != 1 else ''}.",
        status=429,
    )
    response.headers["Retry-After"] = str(max(1, int(retry_after + 0.999)))
    return response


def _client(request: Request) -> str:
    return client_address(request.scope, request.app.state.trusted_proxies)


def _over_client_limit(request: Request, form: str) -> HTMLResponse | None:
    wait = _limits(request).client(form, _client(request))
    return None if wait is None else too_many(request, wait)


def _over_address_limit(request: Request, form: str, key: str) -> HTMLResponse | None:
    wait = _limits(request).address(form, key)
    return None if wait is None else too_many(request, wait)


def _mail_queued(request: Request) -> None:
    """Wake the sender: the page has answered, the mail goes now."""
    poke = getattr(request.app.state, "poke_outbox", None)
    if poke is not None:
        poke()


def _steady() -> Callable[[], Awaitable[None]]:
    """Start the clock; awaiting the result waits out the rest of STEADY_ANSWER (without holding
    a thread)."""
    deadline = time.monotonic() + STEADY_ANSWER

    async def wait() -> None:
        await asyncio.sleep(max(0.0, deadline - time.monotonic()))

    return wait


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


# Subscribe and confirm.


async def subscribe(request: Request) -> Response:
    config = _config(request)
    tokens = _tokens(request)
    if request.method != "POST":
        return page(
            request,
            "public/subscribe.html",
            form_token=tokens.form_token("subscribe"),
            email="",
            name="",
            chosen=set(),
            error=None,
        )
    limited = _over_client_limit(request, "subscribe")
    if limited is not None:
        return limited
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
        address = normalise_email(form["email"])
        strands = choice_from(config, resolve_strands(config, form["strands"]))
    except (EmailError, SubscriberError) as exc:
        return again(f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
    limited = _over_address_limit(request, "subscribe", address)
    if limited is not None:
        return limited
    steady = _steady()
    moment = datetime.now(UTC)
    await run_in_threadpool(
        request_subscription,
        request.app.state.engine,
        config,
        address,
        name=form["name"] or None,
        strands=strands,
        source=f"web form at {moment:%Y-%m-%dT%H:%M:%SZ} from {_client(request)}",
        now=moment,
    )
    _mail_queued(request)
    await steady()
    return _check_inbox(request)


def _check_inbox(request: Request) -> HTMLResponse:
    # The same answer whether the address was new, pending or already subscribed: the form
    # must not tell a stranger who subscribes.
    return message(
        request,
        "Check your inbox",
        "If that address can receive the bulletin, we have emailed it. Follow the link in the "
        "message to confirm; until then nothing else is sent.",
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
    if request.method != "POST":
        # GET and HEAD only show the button: mail scanners open links, they do not press buttons.
        subscriber = await run_in_threadpool(by_link, engine, claim.subscriber_id, claim.nonce)
        if subscriber is None:
            return invalid_link(request)
        return page(request, "public/confirm.html", subscriber=subscriber, action=request.url.path)
    limited = _over_client_limit(request, "link")
    if limited is not None:
        return limited
    try:
        subscriber = await run_in_threadpool(
            confirm_subscription, engine, claim.subscriber_id, claim.nonce
        )
    except SubscriberError as exc:
        return message(request, "This confirmation link does not work", str(exc), status=404)
    _mail_queued(request)
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
    if request.method == "POST":
        limited = _over_client_limit(request, "link")
        if limited is not None:
            return limited
    subscriber = await run_in_threadpool(_reader, request)
    if subscriber is None:
        return invalid_link(request)
    saved, error = False, None
    if request.method == "POST":
        form = await _form(request)
        try:
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
    if request.method != "POST":
        # GET and HEAD ask; only the button (or a mail provider's one-click POST) unsubscribes.
        subscriber = await run_in_threadpool(_reader, request)
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
    if not one_click:
        # RFC 8058's POST comes from the reader's mail provider, many readers from one address:
        # it is never rate-limited (the signed token is all it can act on, and only to leave).
        limited = _over_client_limit(request, "link")
        if limited is not None:
            return limited
    subscriber = await run_in_threadpool(_reader, request)
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
    tokens = _tokens(request)

    def form_page(status: int = 200, error: str | None = None, email: str = "") -> HTMLResponse:
        return page(
            request,
            "public/manage.html",
            status=status,
            form_token=tokens.form_token("manage"),
            error=error,
            email=email,
        )

    if request.method != "POST":
        return form_page()
    limited = _over_client_limit(request, "manage")
    if limited is not None:
        return limited
    form = await _form(request)
    if not tokens.form_token_ok(form["token"], "manage", FORM_MAX_AGE):
        return form_page(403, "The form had expired: please try again.", form["email"])
    if form["honeypot"]:
        return _links_sent(request)
    try:
        address = normalise_email(form["email"])
    except EmailError as exc:
        return form_page(400, f"{str(exc)[:1].upper()}{str(exc)[1:]}.", form["email"])
    limited = _over_address_limit(request, "manage", address)
    if limited is not None:
        return limited
    steady = _steady()
    await run_in_threadpool(request_links, request.app.state.engine, address)
    _mail_queued(request)
    await steady()
    return _links_sent(request)


def _links_sent(request: Request) -> HTMLResponse:
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
        """The archive post as HTML, for the archive page."""
        return archive_html(self.markdown)

    @property
    def html_text(self) -> str:
        """The same HTML as plain text: the Atom feed escapes it into `<content type="html">`."""
        return str(self.html)


def _title(markdown: str, fallback: str) -> str:
    found = _FRONT_MATTER_TITLE.search(markdown)
    if not found:
        return fallback
    try:
        title = json.loads(found.group(1))  # written by the yaml_string filter: a JSON string
    except ValueError:
        return fallback
    return title if isinstance(title, str) and title else fallback


def load_issues(request: Request, season: str | None = None) -> list[Issue]:
    zone = _config(request).schedule.zone
    return [
        Issue(
            season=copy.season,
            title=_title(copy.markdown, copy.season),
            date=f"{copy.published_at.astimezone(zone):%-d %B %Y}",
            published=copy.published_at.astimezone(UTC).isoformat(),
            markdown=copy.markdown,
            html_email=copy.html,
        )
        for copy in published_copies(request.app.state.engine, season)
    ]


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
        base=PublicLinks.from_config(config).base,
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
        Route("/archive/", archive_index, methods=["GET", "HEAD"]),
        Route("/archive/feed.atom", archive_feed, methods=["GET", "HEAD"]),
        Route("/archive/{season}/email", archive_email, methods=["GET", "HEAD"]),
        Route("/archive/{season}", archive_issue, methods=["GET", "HEAD"]),
    ]
