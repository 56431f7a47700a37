"""Where the bulletin templates live, and the Jinja2 environment that renders them.

The editor's folder (`bulletin.templates`, relative to the config file) is searched first, so
overriding one template leaves the others built in. The built-in templates are the package's
`actwatch/templates` in an installed wheel, else the source checkout's top-level `templates/`.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from actwatch.config import Config

TEMPLATE_NAMES = ("bulletin.mjml", "bulletin.txt", "bulletin.md")


def builtin_templates_dir() -> Path:
    installed = files("actwatch") / "templates"
    if installed.is_dir():
        return Path(str(installed))
    # An editable install or a source checkout: src/actwatch/bulletin/templates.py -> repo root.
    checkout = Path(__file__).resolve().parents[3] / "templates"
    if (checkout / TEMPLATE_NAMES[0]).is_file():
        return checkout
    raise FileNotFoundError(f"the built-in bulletin templates are missing (looked in {checkout})")


def template_dirs(config: Config | None = None) -> list[Path]:
    """The folders searched for templates, the editor's first."""
    folders = []
    custom = config.templates_dir if config else None
    if custom is not None and custom.is_dir():
        folders.append(custom)
    builtin = builtin_templates_dir()
    if builtin not in folders:
        folders.append(builtin)
    return folders


@lru_cache(maxsize=16)
def _environment(folders: tuple[Path, ...]) -> Environment:
    environment = Environment(
        loader=ChoiceLoader([FileSystemLoader(folder) for folder in folders]),
        # MJML is HTML to Jinja2: escape it. Text and Markdown are escaped by their own filters.
        autoescape=select_autoescape(
            enabled_extensions=("mjml", "html", "htm", "xml"),
            disabled_extensions=("txt", "md"),
            default_for_string=True,
            default=True,
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=True,
    )
    from actwatch.bulletin import filters

    filters.install(environment)
    return environment


def environment(config: Config | None = None) -> Environment:
    return _environment(tuple(template_dirs(config)))
