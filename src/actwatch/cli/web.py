"""`actwatch web`: the web editor on `web.host`:`web.port` (the full service is `serve`)."""

from __future__ import annotations

import click

from actwatch.cli.base import App, friendly_errors, pass_app


@click.command("web")
@click.option("--host", help="Listen on this address (default: web.host).")
@click.option("--port", type=int, help="Listen on this port (default: web.port).")
@pass_app
@friendly_errors
def web(app: App, host: str | None, port: int | None) -> None:
    """Run the web editor until interrupted."""
    import uvicorn

    from actwatch.editors import list_editors
    from actwatch.web import WebConfigError, create_app

    try:
        application = create_app(app.config, app.engine)
    except WebConfigError as exc:
        app.fail(str(exc))
    if not list_editors(app.engine):
        app.errors.print(
            "No editor accounts yet: create one with `actwatch editors add NAME`.",
            style="yellow",
        )
    host = host or app.config.web.host
    port = port or app.config.web.port
    app.console.print(
        f"Web editor on http://{host}:{port}/editor/ (links in mail use {app.config.web.base_url})",
        highlight=False,
        markup=False,
    )
    uvicorn.run(application, host=host, port=port, proxy_headers=False, log_level="info")


def register(group: click.Group) -> None:
    group.add_command(web)
