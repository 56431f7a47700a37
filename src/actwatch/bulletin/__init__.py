"""The seasonal bulletin: seasons, composing a season's news, rendering it, keeping drafts.

Pure core: `season_window`, `compose` and the `render_*` functions take plain values.
`store` is the database side (`draft_bulletin`, `load_bulletin`, `list_bulletins`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# `compose` names a module and its function: imported here, the function wins, as it always has
# (a lazy name would lose to the submodule once anything imported `actwatch.bulletin.compose`).
from actwatch.bulletin.compose import compose, strand_activity, summarise

if TYPE_CHECKING:
    from actwatch.bulletin.model import (
        Bulletin,
        EditorChoice,
        StoredCommencement,
        StoredItem,
        StrandActivity,
    )
    from actwatch.bulletin.render import (
        HTML_BUDGET,
        Links,
        RenderError,
        preview_links,
        render_html,
        render_markdown,
        render_text,
    )
    from actwatch.bulletin.seasons import (
        Season,
        SeasonError,
        bulletin_title,
        last_ended_season,
        parse_season,
        season_window,
    )
    from actwatch.bulletin.store import (
        BulletinError,
        NothingToDraft,
        draft_bulletin,
        list_bulletins,
        load_bulletin,
    )
    from actwatch.bulletin.templates import builtin_templates_dir, template_dirs

__all__ = [
    "HTML_BUDGET",
    "Bulletin",
    "BulletinError",
    "EditorChoice",
    "Links",
    "NothingToDraft",
    "RenderError",
    "Season",
    "SeasonError",
    "StoredCommencement",
    "StoredItem",
    "StrandActivity",
    "builtin_templates_dir",
    "bulletin_title",
    "compose",
    "draft_bulletin",
    "last_ended_season",
    "list_bulletins",
    "load_bulletin",
    "parse_season",
    "preview_links",
    "render_html",
    "render_markdown",
    "render_text",
    "season_window",
    "strand_activity",
    "summarise",
    "template_dirs",
]

# Each name is imported from its module on first use: listing bulletins needs the store, not
# the renderer (Jinja2, MJML, markdown-it).
_LAZY: dict[str, str] = {
    "Bulletin": "actwatch.bulletin.model",
    "EditorChoice": "actwatch.bulletin.model",
    "StoredCommencement": "actwatch.bulletin.model",
    "StoredItem": "actwatch.bulletin.model",
    "StrandActivity": "actwatch.bulletin.model",
    "HTML_BUDGET": "actwatch.bulletin.render",
    "Links": "actwatch.bulletin.render",
    "RenderError": "actwatch.bulletin.render",
    "preview_links": "actwatch.bulletin.render",
    "render_html": "actwatch.bulletin.render",
    "render_markdown": "actwatch.bulletin.render",
    "render_text": "actwatch.bulletin.render",
    "Season": "actwatch.bulletin.seasons",
    "SeasonError": "actwatch.bulletin.seasons",
    "bulletin_title": "actwatch.bulletin.seasons",
    "last_ended_season": "actwatch.bulletin.seasons",
    "parse_season": "actwatch.bulletin.seasons",
    "season_window": "actwatch.bulletin.seasons",
    "BulletinError": "actwatch.bulletin.store",
    "NothingToDraft": "actwatch.bulletin.store",
    "draft_bulletin": "actwatch.bulletin.store",
    "list_bulletins": "actwatch.bulletin.store",
    "load_bulletin": "actwatch.bulletin.store",
    "builtin_templates_dir": "actwatch.bulletin.templates",
    "template_dirs": "actwatch.bulletin.templates",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
