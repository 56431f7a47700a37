"""Who is logged in, the CSRF token of their session, and one-off messages between pages.

The cookie (Starlette's SessionMiddleware, signed with the secret key) holds the session's
secret, the CSRF token and pending messages. The session itself is a row on the server
(`editors.start_session`): logging out, a new password or a removed account ends it there, so a
copied cookie opens nothing afterwards; it also ends after `web.session_idle` unused and
`web.session_lifetime` after the login, however often the cookie is renewed.

A second, long-lived cookie marks a browser an editor has logged in from (the *device* cookie of
the login throttle, see `throttle`): signed, naming the account and the browser, nothing else.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from actwatch.editors import Editor, end_session, session_editor

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LOGIN_PATH = "/editor/login"
Handler = Callable[[Request], Awaitable[Response]]


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def csrf_ok(request: Request) -> bool:
    expected = request.session.get("csrf")
    if not isinstance(expected, str) or not expected:
        return False
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    return sent is not None and hmac.compare_digest(sent.encode(), expected.encode())


def flash(request: Request, kind: str, message: str) -> None:
    messages = list(request.session.get("flash", []))
    messages.append([kind, message])
    request.session["flash"] = messages[-5:]


def pop_flashes(request: Request) -> list[tuple[str, str]]:
    messages = request.session.pop("flash", [])
    return [(str(kind), str(text)) for kind, text in messages]


def _current_editor(request: Request) -> Editor | None:
    secret = request.session.get("sid")
    if not isinstance(secret, str):
        return None
    web = request.app.state.config.web
    return session_editor(
        request.app.state.engine, secret, idle=web.session_idle, lifetime=web.session_lifetime
    )


def log_in(request: Request, secret: str) -> None:
    # A new session on login: nothing from before (a planted cookie) carries over.
    request.session.clear()
    request.session.update(sid=secret, csrf=secrets.token_urlsafe(32))


def log_out(request: Request) -> None:
    secret = request.session.get("sid")
    if isinstance(secret, str):
        end_session(request.app.state.engine, secret)
    request.session.clear()


# The device cookie.

DEVICE_COOKIE = "actwatch_device"
DEVICE_MAX_AGE = 365 * 24 * 3600
_DEVICE_SALT = "actwatch.editor-device"


def _device_signer(request: Request) -> URLSafeSerializer:
    return URLSafeSerializer(request.app.state.secret, salt=_DEVICE_SALT)


def device_of(request: Request, editor_id: int | None) -> str | None:
    """The browser's device id for this account, if it has logged in to it before."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw or editor_id is None or len(raw) > 200:
        return None
    try:
        value = _device_signer(request).loads(raw)
    except BadSignature:
        return None
    if not isinstance(value, list) or len(value) != 2 or value[0] != editor_id:
        return None
    return f"{editor_id}:{value[1]}"


def remember_device(request: Request, response: Response, editor_id: int) -> None:
    device = secrets.token_urlsafe(12)
    response.set_cookie(
        DEVICE_COOKIE,
        _device_signer(request).dumps([editor_id, device]),
        max_age=DEVICE_MAX_AGE,
        path="/editor/",
        httponly=True,
        samesite="strict",
        secure=str(request.app.state.config.web.base_url).startswith("https://"),
    )


def forbidden(message: str) -> Response:
    return PlainTextResponse(message, status_code=403, headers={"Cache-Control": "no-store"})


def login_redirect(request: Request) -> Response:
    target = request.url.path if request.method == "GET" else "/editor/"
    url = f"{LOGIN_PATH}?next={quote(target)}"
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def editor_required(handler: Handler) -> Handler:
    """Only a logged-in editor gets through; every POST must also carry the session's token."""

    @wraps(handler)
    async def guarded(request: Request) -> Response:
        editor = await run_in_threadpool(_current_editor, request)
        if editor is None:
            request.session.pop("sid", None)
            return login_redirect(request)
        if request.method == "POST" and not await csrf_ok(request):
            return forbidden(
                "This form has expired or did not come from the editor (missing or wrong CSRF "
                "token): reload the page and try again."
            )
        request.state.editor = editor
        return await handler(request)

    return guarded


def safe_next(target: Any) -> str:
    """Only a path inside the editor: never another site (`//evil.example`)."""
    if not isinstance(target, str) or not target.startswith("/editor/"):
        return "/editor/"
    if any(bad in target for bad in ("//", "\\", "\n", "\r")):
        return "/editor/"
    return target
