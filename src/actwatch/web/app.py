"""Build the web application: sessions, security headers, static files and the editor's routes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from actwatch.config import Config
from actwatch.db import Engine
from actwatch.logs import install_access_log_filters
from actwatch.mail import Transport, open_transport
from actwatch.review.states import STATE_LABELS
from actwatch.web.limits import PUBLIC_FORMS, BodyLimit, FormLimits, trusted_networks

SESSION_COOKIE = "actwatch_session"
HSTS = "max-age=31536000; includeSubDomains"
EDITOR_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)


class WebConfigError(Exception):
    """The web editor cannot start as configured."""


class SecurityHeaders:
    """Headers on every response; a route may set its own CSP (the preview does). With an https
    base URL, HSTS tells browsers never to use plain http here again."""

    def __init__(self, app: ASGIApp, *, https: bool = False) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                defaults = {
                    b"content-security-policy": EDITOR_CSP.encode(),
                    b"x-content-type-options": b"nosniff",
                    b"referrer-policy": b"same-origin",
                    b"x-frame-options": b"DENY",
                    b"cache-control": b"no-store",
                }
                if scope["path"].startswith("/static/"):
                    defaults[b"cache-control"] = b"public, max-age=3600"
                if self.https:
                    defaults[b"strict-transport-security"] = HSTS.encode()
                for name, value in defaults.items():
                    if name not in present:
                        headers.append((name, value))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _templates() -> Environment:
    environment = Environment(
        loader=PackageLoader("actwatch.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["state_labels"] = STATE_LABELS
    environment.filters["when"] = _when
    return environment


def _when(moment: datetime | None, zone: Any, pattern: str = "%d %b %Y, %H:%M") -> str:
    if moment is None:
        return ""
    return moment.astimezone(zone).strftime(pattern)


def secret_key(config: Config, env: Mapping[str, str] | None = None) -> str:
    """The signing key: the same one the subscribers' links are signed with."""
    from actwatch.subscribers import SecretMissing, secret_from_env

    try:
        return secret_from_env(config, env)
    except SecretMissing as exc:
        name = config.web.secret_key_env
        raise WebConfigError(
            f"the web editor needs a secret key: {exc}, e.g. "
            "`export " + name + "=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')`"
        ) from None


def _feed_files(config: Config) -> list[Mount]:
    folder = config.feed_files_dir
    if folder is None:
        return []
    return [Mount("/feed-files", StaticFiles(directory=folder, check_dir=False), name="feeds")]


def create_app(
    config: Config,
    engine: Engine,
    *,
    env: Mapping[str, str] | None = None,
    transport_factory: Callable[[], Transport] | None = None,
) -> Starlette:
    """The web application. Refuses to build without the secret key in the environment."""
    from actwatch.subscribers import Tokens
    from actwatch.web import editor, ops, public, subscribers
    from actwatch.web.outbox import OutboxSender
    from actwatch.web.throttle import LoginThrottle, recall_login_failures

    secret = secret_key(config, env)
    https = str(config.web.base_url).startswith("https://")
    tokens = Tokens(secret)
    throttle = LoginThrottle()
    sender = OutboxSender(
        engine, config, tokens, transport_factory or (lambda: open_transport(config))
    )

    async def home(request: Request) -> Response:
        # The site's front door is for readers; editors know their way to /editor/.
        return RedirectResponse("/archive/", status_code=303)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        install_access_log_filters()
        await run_in_threadpool(recall_login_failures, engine, throttle)
        await sender.start()
        try:
            yield
        finally:
            await sender.stop()

    app = Starlette(
        routes=[
            Route("/", home),
            Mount("/static", StaticFiles(packages=[("actwatch.web", "static")]), name="static"),
            Mount("/editor", routes=[*editor.routes(), *subscribers.routes()]),
            # Public pages: no login; subscribers' pages are authorised by their signed token.
            *public.routes(),
            # Probes for the operator: no login, counts and times only (see web/ops.py).
            *ops.routes(),
            # Feed files the operator (or the demo) publishes here, for the feeds to poll.
            *_feed_files(config),
        ],
        middleware=[
            Middleware(SecurityHeaders, https=https),
            # Outside the session and the routes: a huge body is refused before anything reads it.
            Middleware(BodyLimit),
            Middleware(
                SessionMiddleware,
                secret_key=secret,
                session_cookie=SESSION_COOKIE,
                max_age=int(config.web.session_lifetime.total_seconds()),
                same_site="lax",
                https_only=https,
            ),
        ],
        lifespan=lifespan,
    )
    app.state.config = config
    app.state.engine = engine
    app.state.templates = _templates()
    app.state.tokens = tokens
    app.state.transport_factory = transport_factory or (lambda: open_transport(config))
    app.state.trusted_proxies = trusted_networks(config.web.trusted_proxies)
    app.state.form_limits = FormLimits(PUBLIC_FORMS)
    app.state.poke_outbox = sender.poke
    app.state.login_throttle = throttle
    app.state.secret = secret
    return app
