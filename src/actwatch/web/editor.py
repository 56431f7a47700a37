"""The editor's pages: log in, the dashboard, a bulletin's editor with its live preview, the audit
trail. Every page needs a logged-in editor; every POST needs the session's CSRF token and the
revision the editor was looking at. Changes redirect back (post/redirect/get) with a message."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from actwatch import pipeline, review
from actwatch.bulletin import BulletinError, RenderError, SeasonError, parse_season
from actwatch.bulletin.filters import markdown_html
from actwatch.config import Config
from actwatch.core.states import DeliveryState
from actwatch.core.words import count
from actwatch.delivery import DeliveryReport, delivery_report
from actwatch.editors import (
    AccountError,
    check_login,
    editor_id_for,
    record_login_failure,
    start_session,
)
from actwatch.mail import MailError
from actwatch.monitor.status import scheduler_alive
from actwatch.review import editing
from actwatch.review.states import (
    APPROVAL_HELD,
    BLOCKED,
    CLOSED,
    LOCKED,
    SCHEDULED,
    SENDING,
    SENT,
)
from actwatch.review.view import ReviewView
from actwatch.review.view import dashboard as dashboard_view
from actwatch.subscribers.store import count_by_status
from actwatch.web.limits import client_address
from actwatch.web.session import (
    csrf_ok,
    csrf_token,
    device_of,
    editor_required,
    flash,
    forbidden,
    log_in,
    log_out,
    pop_flashes,
    remember_device,
    safe_next,
)
from actwatch.web.throttle import LoginThrottle, Throttled

USER_ERRORS = (review.ReviewError, BulletinError, RenderError, MailError, AccountError, ValueError)
PREVIEW_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; font-src https: data:; "
    "sandbox allow-popups allow-popups-to-escape-sandbox; frame-ancestors 'self'"
)
PREVIEW_FORMATS = {"html": "text/html", "text": "text/plain", "markdown": "text/plain"}


def _config(request: Request) -> Config:
    config: Config = request.app.state.config
    return config


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    config = _config(request)
    page = request.app.state.templates.get_template(template)
    editor = getattr(request.state, "editor", None)
    html = page.render(
        request=request,
        editor=editor,
        csrf=csrf_token(request),
        csrf_headers=json.dumps({"X-CSRF-Token": csrf_token(request)}),
        flashes=pop_flashes(request),
        zone=config.schedule.zone,
        zone_name=config.schedule.timezone,
        act=config.act,
        **context,
    )
    return HTMLResponse(html, status_code=status)


# Log in and out.


async def login_page(request: Request) -> Response:
    if request.method != "POST":
        return render(request, "login.html", next=safe_next(request.query_params.get("next")))
    form = await request.form()
    target = safe_next(form.get("next"))
    if not await csrf_ok(request):
        return render(
            request,
            "login.html",
            status=403,
            next=target,
            error="The login form had expired: please try again.",
        )
    name = str(form.get("name", ""))[:200]
    password = str(form.get("password", ""))
    config = _config(request)
    engine = request.app.state.engine
    throttle: LoginThrottle = request.app.state.login_throttle
    address = client_address(request.scope, request.app.state.trusted_proxies)
    editor_id = await run_in_threadpool(editor_id_for, engine, name)
    try:
        async with throttle.attempt(
            account=str(editor_id) if editor_id is not None else None,
            address=address,
            device=device_of(request, editor_id),
        ) as attempt:
            editor = await run_in_threadpool(check_login, engine, name, password)
            if editor is None:
                attempt.failed()
            else:
                attempt.succeeded()
    except Throttled as exc:
        seconds = int(exc.retry_after + 0.999)
        response = render(
            request,
            "login.html",
            status=429,
            next=target,
            error=f"Too many failed logins: try again in {seconds} second"
            f"{'s' if seconds != 1 else ''}.",
            name=name,
        )
        response.headers["Retry-After"] = str(seconds)
        return response
    if editor is None:
        await run_in_threadpool(record_login_failure, engine, name, address)
        return render(
            request,
            "login.html",
            status=401,
            next=target,
            error="That name and password do not match an editor account.",
            name=name,
        )
    secret = await run_in_threadpool(
        start_session, engine, editor.id, lifetime=config.web.session_lifetime
    )
    log_in(request, secret)
    flash(request, "success", f"Welcome, {editor.name}.")
    redirect = RedirectResponse(target, status_code=303)
    remember_device(request, redirect, editor.id)
    return redirect


@editor_required
async def logout(request: Request) -> Response:
    await run_in_threadpool(log_out, request)
    return RedirectResponse("/editor/login", status_code=303)


# Pages.


@editor_required
async def dashboard(request: Request) -> Response:
    config = _config(request)
    engine = request.app.state.engine
    board = await run_in_threadpool(dashboard_view, engine, config)
    return render(request, "dashboard.html", board=board)


def _bulletin_id(request: Request) -> int:
    value: int = request.path_params["bulletin_id"]
    return value


def audience(engine: Any) -> int:
    """Who a send now would go to: every confirmed subscriber (each gets their strands)."""
    return count_by_status(engine).get("confirmed", 0)


DELIVERY_STATES = (
    # (state, what it means for the editor), in the order the page lists them.
    (DeliveryState.SENT, "sent"),
    (DeliveryState.PENDING, "waiting their turn"),
    (DeliveryState.SENDING, "in flight"),
    (DeliveryState.RETRY, "to be retried (the server asked us to wait)"),
    (DeliveryState.BOUNCED, "bounced (the address is no longer mailed)"),
    (DeliveryState.FAILED, "failed"),
    (DeliveryState.SUPPRESSED, "not sent: the reader left before their turn"),
)


def delivery_report_for_page(engine: Any, config: Any, view: ReviewView) -> DeliveryReport | None:
    """Delivery's own report of the send (the one `actwatch deliveries` prints) once it has
    started, or when a scheduled send is overdue; None before (the page shows the audience)."""
    if view.state not in (SCHEDULED, SENDING, BLOCKED, SENT):
        return None
    report = delivery_report(engine, config, view.id)
    if view.state == SCHEDULED and not report.overdue:
        return None
    return report


@editor_required
async def bulletin_page(request: Request) -> Response:
    config = _config(request)
    engine = request.app.state.engine
    bulletin_id = _bulletin_id(request)

    def load() -> dict[str, Any]:
        view, rendered = review.review_with_preview(engine, config, bulletin_id)
        return {
            "view": view,
            "rendered": rendered,
            "audience": audience(engine),
            "delivery": delivery_report_for_page(engine, config, view),
        }

    try:
        context = await run_in_threadpool(load)
    except (review.NotFoundError, BulletinError):
        return render(request, "missing.html", status=404, what=f"bulletin {bulletin_id}")
    view = context["view"]
    return render(
        request,
        "bulletin.html",
        **context,
        editable=view.state not in LOCKED and view.state not in CLOSED,
        held=view.state in APPROVAL_HELD,
        strands=config.strands,
        event_types=config.event_types,
        section_cap=config.bulletin.section_cap,
        editor_email=config.bulletin.editor.email,
        intro_html=markdown_html(view.intro_md),
        sender=config.mail.from_name or config.act.short_name,
        sender_address=config.mail.from_,
        delivery_states=DELIVERY_STATES,
        preheader_chars=editing.PREHEADER_CHARS,
    )


@editor_required
async def send_page(request: Request) -> Response:
    """ "Send now", step two: what goes to whom, and a last button. Changes nothing itself."""
    config = _config(request)
    engine = request.app.state.engine
    bulletin_id = _bulletin_id(request)

    def load() -> dict[str, Any]:
        view = review.build_review(engine, config, bulletin_id)
        return {
            "view": view,
            "audience": audience(engine),
            "scheduler": scheduler_alive(engine),
        }

    try:
        context = await run_in_threadpool(load)
    except (review.NotFoundError, BulletinError):
        return render(request, "missing.html", status=404, what=f"bulletin {bulletin_id}")
    return render(
        request,
        "send.html",
        **context,
        interval=config.schedule.send_check_interval,
        sender=config.mail.from_name or config.act.short_name,
        sender_address=config.mail.from_,
    )


@editor_required
async def preview(request: Request) -> Response:
    """The email as it will be frozen (or as it was): inside a sandboxed frame, no scripts."""
    config = _config(request)
    engine = request.app.state.engine
    bulletin_id = _bulletin_id(request)
    kind = request.query_params.get("format", "html")
    if kind not in PREVIEW_FORMATS:
        return PlainTextResponse("format must be html, text or markdown", status_code=400)

    def load() -> str:
        copy = review.preview_copy(engine, config, bulletin_id)
        return {"html": copy.html, "text": copy.text, "markdown": copy.markdown}[kind]

    try:
        body = await run_in_threadpool(load)
    except review.NotFoundError:
        return PlainTextResponse("no such bulletin", status_code=404)
    except (RenderError, review.ReviewError) as exc:
        return PlainTextResponse(f"The preview cannot be rendered: {exc}", status_code=500)
    return Response(
        body,
        media_type=PREVIEW_FORMATS[kind],
        headers={"Content-Security-Policy": PREVIEW_CSP, "X-Frame-Options": "SAMEORIGIN"},
    )


@editor_required
async def audit_page(request: Request) -> Response:
    engine = request.app.state.engine
    bulletin_id = request.path_params.get("bulletin_id")
    entries = await run_in_threadpool(review.audit_entries, engine, _config(request), bulletin_id)
    return render(request, "audit.html", entries=entries, bulletin_id=bulletin_id)


@editor_required
async def intro_preview(request: Request) -> Response:
    """The introduction as readers will see it, while the editor types (never saved here)."""
    form = await request.form()
    text = str(form.get("intro_md", ""))[: editing.INTRO_CHARS]
    html = markdown_html(text)
    return HTMLResponse(str(html) or '<p class="muted">Nothing yet.</p>')


# Changes. Each takes the form, does one thing in a worker thread, and says how it went.

Action = Callable[[Config, Any, int, str, int, FormData], str]


def _revision(form: FormData) -> int:
    try:
        return int(str(form.get("revision", "")))
    except ValueError:
        raise review.ReviewError(
            "the form did not say which version you were editing: reload the page"
        ) from None


def _item(request: Request) -> int:
    value: int = request.path_params["item_id"]
    return value


def _text(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def _described(edit: review.Edit, message: str) -> str:
    if edit.approval_reset:
        return f"{message} The approval was discarded: the bulletin is back in review."
    return message


# Where a form may ask to land afterwards: the id of an element on the page it came from.
PLACE = re.compile(r"[a-z][a-z0-9-]{0,80}")


def back_to(request: Request, url: str) -> Response:
    """Post/redirect/get, landing where the editor was working.

    A redirect's #fragment does not survive htmx: it follows the 303 inside XMLHttpRequest,
    which drops the fragment, and the page lands wherever the old scroll offset falls. So an
    htmx request is told where to go with HX-Location instead: htmx loads that page, scrolls
    to its #fragment and puts it in the address bar. A browser without htmx follows the 303 and
    keeps the fragment itself."""
    if request.headers.get("hx-request") == "true":
        location = json.dumps({"path": url, "target": "body"})
        return Response(status_code=200, headers={"HX-Location": location})
    return RedirectResponse(url, status_code=303)


def _landing(form: FormData, default: str) -> str:
    place = _text(form, "place")
    return f"#{place}" if PLACE.fullmatch(place) else default


def action(do: Callable[..., str], anchor: str = "#decision") -> Callable[[Request], Any]:
    """A POST route doing one change to a bulletin; `anchor` is where the page lands after it
    (`{item}`: the item's id), unless the form names a `place` of its own."""

    @editor_required
    async def handler(request: Request) -> Response:
        bulletin_id = _bulletin_id(request)
        form = await request.form()
        editor = request.state.editor
        config = _config(request)
        engine = request.app.state.engine

        def run() -> str:
            revision = _revision(form)
            return do(
                request=request,
                config=config,
                engine=engine,
                bulletin_id=bulletin_id,
                actor=editor.name,
                revision=revision,
                form=form,
            )

        try:
            message = await run_in_threadpool(run)
            flash(request, "success", message)
        except review.NotFoundError as exc:
            return render(request, "missing.html", status=404, what=str(exc))
        except USER_ERRORS as exc:
            flash(request, "error", _sentence(str(exc)))
        place = _landing(form, anchor.format(item=request.path_params.get("item_id", "")))
        return back_to(request, f"/editor/bulletins/{bulletin_id}{place}")

    return handler


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else f"{text}."


def do_exclude(
    *, request: Request, engine: Any, bulletin_id: int, actor: str, revision: int, **_: Any
) -> str:
    item = _item(request)
    edit = review.set_included(engine, bulletin_id, item, False, actor=actor, revision=revision)
    return _described(edit, f"Item {item} is left out of the bulletin.")


def do_include(
    *, request: Request, engine: Any, bulletin_id: int, actor: str, revision: int, **_: Any
) -> str:
    item = _item(request)
    edit = review.set_included(engine, bulletin_id, item, True, actor=actor, revision=revision)
    return _described(edit, f"Item {item} is back in the bulletin.")


def do_strand(
    *,
    request: Request,
    config: Config,
    engine: Any,
    bulletin_id: int,
    actor: str,
    revision: int,
    form: FormData,
) -> str:
    item = _item(request)
    strand = _text(form, "strand") or None
    edit = review.move_to_strand(
        engine, config, bulletin_id, item, strand, actor=actor, revision=revision
    )
    where = config.strands[strand].name if strand else "the strand the matcher chose"
    return _described(edit, f"Item {item} now appears under {where}.")


def do_summary(
    *,
    request: Request,
    engine: Any,
    bulletin_id: int,
    actor: str,
    revision: int,
    form: FormData,
    **_: Any,
) -> str:
    item = _item(request)
    text = _text(form, "summary")
    edit = review.set_summary(engine, bulletin_id, item, text, actor=actor, revision=revision)
    said = "Saved the summary" if text.strip() else "The feed's own summary is back"
    return _described(edit, f"{said} for item {item}.")


def do_move(offset: int) -> Callable[..., str]:
    def move(
        *,
        request: Request,
        config: Config,
        engine: Any,
        bulletin_id: int,
        actor: str,
        revision: int,
        **_: Any,
    ) -> str:
        item = _item(request)
        edit = review.move_item(
            engine, config, bulletin_id, item, offset, actor=actor, revision=revision
        )
        return _described(edit, f"Moved item {item} {'up' if offset < 0 else 'down'}.")

    return move


def do_pick(
    *,
    request: Request,
    config: Config,
    engine: Any,
    bulletin_id: int,
    actor: str,
    revision: int,
    **_: Any,
) -> str:
    item = _item(request)
    edit = review.pick_uncertain(engine, config, bulletin_id, item, actor=actor, revision=revision)
    return _described(edit, f"Item {item} is now in the bulletin.")


def do_dismiss(*, request: Request, engine: Any, actor: str, **_: Any) -> str:
    item = _item(request)
    review.dismiss_uncertain(engine, item, actor=actor)
    return f"Item {item} is marked not relevant and leaves the queue."


def do_manual(
    *,
    config: Config,
    engine: Any,
    bulletin_id: int,
    actor: str,
    revision: int,
    form: FormData,
    **_: Any,
) -> str:
    published = _text(form, "published_on").strip()
    try:
        day = date.fromisoformat(published) if published else None
    except ValueError:
        raise review.ReviewError("the date must look like 2017-11-30") from None
    manual = review.ManualItem(
        link=_text(form, "link"),
        title=_text(form, "title"),
        summary=_text(form, "summary"),
        strand=_text(form, "strand") or None,
        event_type=_text(form, "event_type") or "other",
        published_on=day,
    )
    edit, item_id = review.add_manual_item(
        engine, config, bulletin_id, manual, actor=actor, revision=revision
    )
    return _described(edit, f"Added item {item_id}: {manual.title.strip()}.")


def do_preheader(
    *, engine: Any, bulletin_id: int, actor: str, revision: int, form: FormData, **_: Any
) -> str:
    text = _text(form, "preheader")
    edit = review.set_preheader(engine, bulletin_id, text, actor=actor, revision=revision)
    said = "Saved the preview text." if text.strip() else "The default preview text is back."
    return _described(edit, said)


def do_headline(
    *, engine: Any, bulletin_id: int, actor: str, revision: int, form: FormData, **_: Any
) -> str:
    text = _text(form, "headline")
    edit = review.set_headline(engine, bulletin_id, text, actor=actor, revision=revision)
    return _described(edit, "Saved the headline." if text.strip() else "Removed the headline.")


def do_intro(
    *, engine: Any, bulletin_id: int, actor: str, revision: int, form: FormData, **_: Any
) -> str:
    edit = review.set_intro(
        engine, bulletin_id, _text(form, "intro_md"), actor=actor, revision=revision
    )
    return _described(edit, "Saved the introduction.")


def do_submit(*, engine: Any, bulletin_id: int, actor: str, revision: int, **_: Any) -> str:
    review.submit(engine, bulletin_id, actor=actor, revision=revision)
    return "The bulletin is in review."


def do_approve(
    *,
    config: Config,
    engine: Any,
    bulletin_id: int,
    actor: str,
    revision: int,
    form: FormData,
    **_: Any,
) -> str:
    expected = _text(form, "content_hash") or None
    if expected is None:
        raise review.ReviewError("the form did not say which content you approve: reload the page")
    approval = pipeline.approve(
        engine, config, bulletin_id, by=actor, revision=revision, expected_hash=expected
    )
    return (
        f"Approved by {approval.approved_by}: this exact copy (hash "
        f"{approval.content_hash[:12]}) is what subscribers will get. Any change needs a new "
        "approval."
    )


def do_reject(
    *, engine: Any, bulletin_id: int, actor: str, revision: int, form: FormData, **_: Any
) -> str:
    review.reject(engine, bulletin_id, actor=actor, reason=_text(form, "reason"), revision=revision)
    return "The bulletin is rejected; reopen it to work on it again."


def do_withdraw(
    *, engine: Any, bulletin_id: int, actor: str, revision: int, form: FormData, **_: Any
) -> str:
    review.withdraw(
        engine, bulletin_id, actor=actor, reason=_text(form, "reason"), revision=revision
    )
    return "The bulletin is withdrawn: nothing will be sent. Reopen it to work on it again."


def do_reopen(*, engine: Any, bulletin_id: int, actor: str, revision: int, **_: Any) -> str:
    review.reopen(engine, bulletin_id, actor=actor, revision=revision)
    return "The bulletin is back in review."


def do_schedule(
    *,
    config: Config,
    engine: Any,
    bulletin_id: int,
    actor: str,
    revision: int,
    form: FormData,
    **_: Any,
) -> str:
    text = _text(form, "at").strip()
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise review.ReviewError("give the date and time to send, e.g. 2017-12-05 09:00") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=config.schedule.zone)
    review.schedule(engine, bulletin_id, actor=actor, at=at, revision=revision)
    return f"Scheduled for {at.astimezone(config.schedule.zone):%d %B %Y at %H:%M %Z}."


def do_send_now(
    *,
    request: Request,
    config: Config,
    engine: Any,
    bulletin_id: int,
    actor: str,
    revision: int,
    form: FormData,
    **_: Any,
) -> str:
    expected = _text(form, "content_hash") or None
    if expected is None:
        raise review.ReviewError("the form did not say which copy you send: reload the page")
    review.send_now(engine, bulletin_id, actor=actor, revision=revision, expected_hash=expected)
    service = getattr(request.app.state, "service", None)
    wake = getattr(service, "wake", None)
    if callable(wake) and wake("send-due"):
        return "Sending now: the delivery report below follows it."
    if scheduler_alive(engine):
        minutes = config.schedule.send_check_interval.total_seconds() / 60
        unit = "minute" if minutes == 1 else "minutes"
        return (
            f"It is due now: the scheduler starts sending it within {minutes:g} {unit}; "
            "the delivery report below follows it."
        )
    return (
        "It is due now, but no scheduler is running to send it: start `actwatch serve`, or "
        f"run `actwatch send {bulletin_id}`."
    )


def do_unschedule(*, engine: Any, bulletin_id: int, actor: str, revision: int, **_: Any) -> str:
    review.unschedule(engine, bulletin_id, actor=actor, revision=revision)
    return "Unscheduled: the approval stands, nothing will be sent until you schedule it again."


def do_test_send(
    *,
    request: Request,
    config: Config,
    engine: Any,
    bulletin_id: int,
    actor: str,
    form: FormData,
    **_: Any,
) -> str:
    address = _text(form, "to")
    with request.app.state.transport_factory() as transport:
        sent = review.send_test_copy(
            engine, config, bulletin_id, address, actor=actor, transport=transport
        )
    kind = "the approved copy" if sent.frozen else "the current draft"
    return f"Sent {kind} to {sent.to}."


@editor_required
async def dismiss_from_dashboard(request: Request) -> Response:
    item = _item(request)
    editor = request.state.editor
    engine = request.app.state.engine
    form = await request.form()
    try:
        await run_in_threadpool(review.dismiss_uncertain, engine, item, actor=editor.name)
        flash(request, "success", f"Item {item} is marked not relevant and leaves the queue.")
    except USER_ERRORS as exc:
        flash(request, "error", _sentence(str(exc)))
    return back_to(request, "/editor/" + _landing(form, "#uncertain"))


@editor_required
async def pick_from_dashboard(request: Request) -> Response:
    """An uncertain item into its season's bulletin, drafting the season if it has none."""
    item = _item(request)
    editor = request.state.editor
    engine = request.app.state.engine
    config = _config(request)
    form = await request.form()
    try:
        picked = await run_in_threadpool(
            lambda: review.pick_for_season(engine, config, item, actor=editor.name)
        )
    except USER_ERRORS as exc:
        flash(request, "error", _sentence(str(exc)))
        return back_to(request, "/editor/" + _landing(form, "#uncertain"))
    drafted = f" (the {picked.season} draft was created for it)" if picked.drafted else ""
    flash(request, "success", f"Item {item} is now in the {picked.season} bulletin{drafted}.")
    return back_to(request, f"/editor/bulletins/{picked.bulletin_id}#item-{item}")


@editor_required
async def create_draft(request: Request) -> Response:
    """A season's draft, made now (the service makes the last season's on its own)."""
    config = _config(request)
    engine = request.app.state.engine
    form = await request.form()
    try:
        season = parse_season(config, _text(form, "season"))
        drafted = await run_in_threadpool(
            lambda: pipeline.draft_and_notify(engine, config, season, notify=False)
        )
    except (SeasonError, *USER_ERRORS) as exc:
        flash(request, "error", _sentence(str(exc)))
        return back_to(request, "/editor/#drafts")
    result = drafted.draft
    if result.created:
        flash(
            request,
            "success",
            f"Created the {season.label} draft with {count(result.total, 'item')}.",
        )
    else:
        flash(request, "success", f"The {season.label} bulletin already existed: here it is.")
    return back_to(request, f"/editor/bulletins/{result.bulletin_id}")


async def not_allowed(request: Request) -> Response:
    return forbidden("Not here.")


def routes() -> list[Route]:
    base = "/bulletins/{bulletin_id:int}"
    item = base + "/items/{item_id:int}"
    post = ["POST"]
    return [
        Route("/", dashboard, name="dashboard"),
        Route("/login", login_page, methods=["GET", "POST"], name="login"),
        Route("/logout", logout, methods=post, name="logout"),
        Route("/audit", audit_page, name="audit"),
        Route("/drafts", create_draft, methods=post),
        Route("/uncertain/{item_id:int}/dismiss", dismiss_from_dashboard, methods=post),
        Route("/uncertain/{item_id:int}/pick", pick_from_dashboard, methods=post),
        Route(base, bulletin_page, name="bulletin"),
        Route(base + "/preview", preview, name="preview"),
        Route(base + "/audit", audit_page, name="bulletin_audit"),
        Route(base + "/send", send_page, name="send"),
        Route(base + "/intro/preview", intro_preview, methods=post),
        Route(item + "/exclude", action(do_exclude, "#excluded"), methods=post),
        Route(item + "/include", action(do_include, "#item-{item}"), methods=post),
        Route(item + "/strand", action(do_strand, "#item-{item}"), methods=post),
        Route(item + "/summary", action(do_summary, "#item-{item}"), methods=post),
        Route(item + "/up", action(do_move(-1), "#item-{item}"), methods=post),
        Route(item + "/down", action(do_move(1), "#item-{item}"), methods=post),
        Route(
            base + "/uncertain/{item_id:int}/pick", action(do_pick, "#item-{item}"), methods=post
        ),
        Route(
            base + "/uncertain/{item_id:int}/dismiss",
            action(do_dismiss, "#uncertain"),
            methods=post,
        ),
        Route(base + "/manual", action(do_manual, "#items"), methods=post),
        Route(base + "/headline", action(do_headline, "#headline"), methods=post),
        Route(base + "/preheader", action(do_preheader, "#preheader"), methods=post),
        Route(base + "/intro", action(do_intro, "#intro"), methods=post),
        Route(base + "/submit", action(do_submit), methods=post),
        Route(base + "/approve", action(do_approve), methods=post),
        Route(base + "/reject", action(do_reject), methods=post),
        Route(base + "/withdraw", action(do_withdraw), methods=post),
        Route(base + "/reopen", action(do_reopen), methods=post),
        Route(base + "/schedule", action(do_schedule), methods=post),
        Route(base + "/unschedule", action(do_unschedule), methods=post),
        Route(base + "/send-now", action(do_send_now, "#delivery"), methods=post),
        Route(base + "/test-send", action(do_test_send), methods=post),
    ]
