"""The seasonal bulletin: seasons, composing a season's news, rendering it, keeping drafts.

Pure core: `season_window`, `compose` and the `render_*` functions take plain values.
`store` is the database side (`draft_bulletin`, `load_bulletin`, `list_bulletins`).
"""

from actwatch.bulletin.compose import compose, strand_activity, summarise
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
