"""Who is logged in, the CSRF token of their session, and one-off messages between pages.

The session lives in a cookie signed with the secret key (Starlette's SessionMiddleware). It
holds the editor's id, a fingerprint of their password hash (a changed password or a removed
account ends every session at once), the CSRF token and pending messages; nothing secret.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from actwatch.editors import Editor, session_editor

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
    editor_id = request.session.get("editor_id")
    if not isinstance(editor_id, int):
        return None
    found = session_editor(request.app.state.engine, editor_id)
    if found is None or request.session.get("fp") != found[1]:
        return None
    return found[0]


def log_in(request: Request, editor_id: int, fingerprint: str) -> None:
    # A new session on login: nothing from before (a planted cookie) carries over.
    request.session.clear()
    request.session.update(
        editor_id=editor_id,
        fp=fingerprint,
        csrf=secrets.token_urlsafe(32),
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
            request.session.pop("editor_id", None)
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
