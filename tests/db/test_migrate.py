"""The migration check every command makes: cheap when the schema is current, Alembic otherwise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine

from actwatch.db import make_engine
from actwatch.db.migrate import (
    _alembic_config,
    head_revision,
    is_current,
    shipped_heads,
    stored_revisions,
    upgrade,
)


def test_the_heads_read_from_the_files_are_alembics(engine: Engine) -> None:
    heads = shipped_heads()
    assert heads is not None
    assert heads == {head_revision(engine)}


def test_a_current_schema_is_current_and_an_old_one_is_not(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert stored_revisions(engine) == frozenset()
        assert not is_current(engine)
        command.upgrade(_alembic_config(engine), "0001")
        assert stored_revisions(engine) == {"0001"}
        assert not is_current(engine)
        assert upgrade(engine) is True
        assert is_current(engine)
        assert upgrade(engine) is False
    finally:
        engine.dispose()


def test_opening_a_current_database_does_not_load_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'actwatch.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    script = (
        "import sys\n"
        "from actwatch.db import make_engine, upgrade\n"
        f"assert upgrade(make_engine({url!r})) is False\n"
        "print(sorted(m for m in sys.modules if m == 'alembic' or m.startswith('alembic.')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]", result.stdout


@pytest.mark.parametrize("down", ['"0002_editor"', "None", '("0002_a", "0002_b")'])
def test_revision_lines_are_read_as_alembic_writes_them(down: str) -> None:
    from actwatch.db.migrate import _ASSIGNMENT

    source = f'revision: str = "0003_x"\ndown_revision: str | None = {down}\n'
    found = {match[1]: match[2] for match in _ASSIGNMENT.finditer(source)}
    assert found == {"revision": '"0003_x"', "down_revision": down}
