"""Alembic migrations shipped inside the package, applied on start and by `actwatch init`.

Every command opens the database through `upgrade`, so the common case, a schema already at the
head, is checked without Alembic: the revision stored in `alembic_version` is compared with the
head read from the migration files' `revision` and `down_revision` lines. Alembic (its script
directory, Mako, its DDL modules: half a second of imports) is loaded only when they differ or
the files cannot be read that way.
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

VERSION_TABLE = "alembic_version"
# `revision: str = "0002_editor"`, `down_revision: str | None = None` at the start of a line.
_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.MULTILINE)


def _alembic_config(engine: Engine) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(resources.files("actwatch.db") / "migrations"))
    config.attributes["engine"] = engine
    return config


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@lru_cache(maxsize=1)
def shipped_heads() -> frozenset[str] | None:
    """The head revisions of the shipped migrations, read from their files without Alembic;
    None when a file does not state its revisions as plain literals (Alembic then decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    folder = resources.files("actwatch.db") / "migrations" / "versions"
    for entry in folder.iterdir():
        if not entry.name.endswith(".py") or entry.name.startswith("_"):
            continue
        found: dict[str, str] = {
            match[1]: match[2] for match in _ASSIGNMENT.finditer(entry.read_text(encoding="utf-8"))
        }
        try:
            revision = ast.literal_eval(found["revision"])
            down = ast.literal_eval(found["down_revision"])
        except (KeyError, ValueError, SyntaxError):
            return None
        downs = down if isinstance(down, tuple | list) else (down,)
        if not isinstance(revision, str) or not all(d is None or isinstance(d, str) for d in downs):
            return None
        revisions.add(revision)
        parents.update(d for d in downs if d is not None)
    heads = frozenset(revisions - parents)
    return heads or None


def stored_revisions(engine: Engine) -> frozenset[str]:
    """The revisions recorded in the database (none for a database never migrated)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return frozenset()
        rows = connection.execute(text("SELECT version_num FROM alembic_version"))
        return frozenset(str(row[0]) for row in rows)


def is_current(engine: Engine) -> bool:
    """Whether the schema is at the shipped head, checked without loading Alembic."""
    heads = shipped_heads()
    return heads is not None and stored_revisions(engine) == heads


def upgrade(engine: Engine) -> bool:
    """Bring the schema to the newest revision; return whether anything had to change."""
    if is_current(engine):
        return False
    if current_revision(engine) == head_revision(engine):
        return False
    from alembic import command

    command.upgrade(_alembic_config(engine), "head")
    return True
