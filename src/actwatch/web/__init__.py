"""The web editor: a Starlette app the editor logs in to, to review and approve bulletins.

`create_app(config, engine)` builds it; `actwatch web` serves it. Later stages (public pages,
the archive) mount their routes on the same app.
"""

from actwatch.web.app import WebConfigError, create_app

__all__ = ["WebConfigError", "create_app"]
