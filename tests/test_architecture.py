"""The shape of the code, checked by walking every module's imports (including those inside
functions and under TYPE_CHECKING, so a lazy import cannot slip past).

Data flows one way:

    config, db, core, mail  <  feeds  <  matching  <  bulletin  <  review
        <  subscribers, editors  <  delivery  <  pipeline, monitor  <  faces

- `mail` sits with the foundations: it builds and transports one message, and review (the
  editor's draft email) as well as delivery use it.
- `subscribers` and `editors` are the people: both sit after review, below delivery. Delivery
  reads the subscribers to mail them; subscribers never import delivery (the emails they get
  about their subscription are built from `mail`, not from the bulletin's send loop).
- `pipeline` (the verbs) and `monitor` (the service's state, status and metrics) sit above every
  stage and below every face, so the web app and the service both use them without importing
  each other.
- The faces (`cli`, `web`, `service`, `demo`) talk to people and hold no SQL: no SQLAlchemy, no
  table object, no connection of their own; they go through each stage's storage module. Among
  faces, `service` hosts the web app (it imports `web`, never the reverse) and `cli` starts the
  others.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import actwatch

SRC = Path(actwatch.__file__).resolve().parent

# Components in data-flow order: a component may import only components of the same rank or
# lower (an import within one component is always fine).
RANKS: dict[str, int] = {
    "actwatch": 0,  # the package itself: __version__
    "config": 0,
    "db": 0,
    "core": 0,
    "mail": 0,
    "logs": 0,
    "feeds": 1,
    "matching": 2,
    "bulletin": 3,
    "review": 4,
    "subscribers": 5,
    "editors": 5,
    "delivery": 6,
    "pipeline": 7,
    "monitor": 7,
    "cli": 8,
    "web": 8,
    "service": 8,
    "demo": 8,
    "__main__": 8,
}
FACES = {"cli", "web", "service", "demo", "__main__"}
# Which faces a face may import: the CLI starts the others, the service hosts the web app.
FACE_IMPORTS: dict[str, set[str]] = {
    "cli": {"web", "service", "demo"},
    "service": {"web"},
    "web": set(),
    "demo": set(),
    "__main__": {"cli"},
}
# Components of one rank that must still not import each other.
APART = {("subscribers", "editors"), ("editors", "subscribers"), ("monitor", "pipeline")}
# `core` is below everything: it imports nothing of actwatch but itself.
CORE_ONLY = {"core"}

# Faces whose SQL other branches are moving out right now (issue 11). The lead removes an entry
# when that branch lands; a module that has become clean stays clean from then on.
FACES_WITH_SQL_ALLOWED: set[str] = set()
# Methods that only a storage module calls: a face calling them on an engine runs SQL itself.
CONNECTION_METHODS = {"connect", "begin", "execute", "raw_connection"}


@dataclass(frozen=True)
class Import:
    importer: str  # module name
    imported: str  # module name (or module.attribute for `from x import y`)
    names: tuple[str, ...]
    line: int


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _component(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _modules() -> dict[str, ast.Module]:
    return {
        _module_name(path): ast.parse(path.read_text(encoding="utf-8"), str(path))
        for path in sorted(SRC.rglob("*.py"))
        if "migrations" not in path.parts
    }


def _imports(module: str, tree: ast.Module) -> list[Import]:
    package = module if _is_package(module) else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, (), node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = tuple(alias.name for alias in node.names)
            found.append(Import(module, base, names, node.lineno))
    return found


def _is_package(module: str) -> bool:
    return (SRC.parent / module.replace(".", "/") / "__init__.py").exists()


def _all_imports() -> list[Import]:
    return [found for module, tree in _modules().items() for found in _imports(module, tree)]


def _internal(found: Import) -> bool:
    return found.imported == "actwatch" or found.imported.startswith("actwatch.")


def test_every_component_has_a_rank() -> None:
    components = {_component(module) for module in _modules()}
    assert components <= set(RANKS), sorted(components - set(RANKS))


def test_no_stage_imports_a_later_stage_or_a_face() -> None:
    wrong = []
    for found in filter(_internal, _all_imports()):
        source, target = _component(found.importer), _component(found.imported)
        if source == target:
            continue
        if source in FACES and target in FACES:
            continue  # the next test
        if RANKS[target] > RANKS[source] or (source, target) in APART:
            wrong.append(f"{found.importer}:{found.line} imports {found.imported}")
        if source in CORE_ONLY:
            wrong.append(f"{found.importer}:{found.line} (core) imports {found.imported}")
    assert wrong == []


def test_faces_import_only_the_faces_they_drive() -> None:
    wrong = [
        f"{found.importer}:{found.line} imports {found.imported}"
        for found in filter(_internal, _all_imports())
        if _component(found.importer) in FACES
        and _component(found.imported) in FACES
        and _component(found.imported) != _component(found.importer)
        and _component(found.imported) not in FACE_IMPORTS[_component(found.importer)]
    ]
    assert wrong == []


def test_there_is_no_import_cycle_between_components() -> None:
    edges: dict[str, set[str]] = defaultdict(set)
    for found in filter(_internal, _all_imports()):
        source, target = _component(found.importer), _component(found.imported)
        if source != target:
            edges[source].add(target)
    assert "service" not in _reachable(edges, "web")
    cycles = sorted((a, b) for a in edges for b in edges[a] if a != b and a in _reachable(edges, b))
    assert cycles == []


def _reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in edges.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _sql_in_face(module: str, tree: ast.Module) -> list[str]:
    found = []
    for each in _imports(module, tree):
        if each.imported == "sqlalchemy" or each.imported.startswith("sqlalchemy."):
            found.append(f"{module}:{each.line} imports {each.imported}")
        elif each.imported.startswith("actwatch.db.schema"):
            found.append(f"{module}:{each.line} imports the schema's tables")
        elif each.imported == "actwatch.db" and "metadata" in each.names:
            found.append(f"{module}:{each.line} imports the schema's metadata")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in CONNECTION_METHODS
            and "engine" in ast.unparse(node.func.value).lower()
        ):
            found.append(f"{module}:{node.lineno} calls {ast.unparse(node.func)}()")
    return found


def test_the_faces_hold_no_sql() -> None:
    wrong = [
        problem
        for module, tree in _modules().items()
        if _component(module) in FACES and module not in FACES_WITH_SQL_ALLOWED
        for problem in _sql_in_face(module, tree)
    ]
    assert wrong == []


def test_the_allowlist_names_real_faces() -> None:
    modules = _modules()
    for module in FACES_WITH_SQL_ALLOWED:
        assert module in modules and _component(module) in FACES, module


def test_the_checks_catch_what_they_are_for() -> None:
    """Each rule fails on a module written to break it (so none of the tests above can pass by
    checking nothing)."""
    bad_face = ast.parse(
        "from sqlalchemy import select\n"
        "from actwatch.db.schema import bulletins\n"
        "def f(app):\n"
        "    with app.engine.begin() as c:\n"
        "        c.execute(select(bulletins))\n"
    )
    assert len(_sql_in_face("actwatch.cli.bad", bad_face)) == 3
    lazy = ast.parse("def f():\n    from actwatch.web.app import create_app\n")
    [found] = _imports("actwatch.service.bad", lazy)
    assert _component(found.imported) == "web"
    backwards = ast.parse("from actwatch.delivery import send_bulletin\n")
    [found] = _imports("actwatch.review.bad", backwards)
    assert RANKS[_component(found.imported)] > RANKS[_component(found.importer)]
    relative = ast.parse("from ..pipeline import send\n")
    [found] = _imports("actwatch.feeds.bad", relative)
    assert found.imported == "actwatch.pipeline"
