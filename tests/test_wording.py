"""Words people read are written for them: no machine plurals ("7 day(s)", "item(s)") in any
message, log line, page or template; counts go through `actwatch.core.words.plural`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import actwatch
from actwatch.core.words import count, plural
from tests.conftest import REPO

SRC = Path(actwatch.__file__).resolve().parent
MACHINE_PLURAL = re.compile(r"[A-Za-z]\((?:s|es|ies)\)")
# "an http(s) URL" names the two schemes; it is not a count.
ALLOWED = re.compile(r"https?\(s\)|http\(s\)")
TEMPLATE_SUFFIXES = {".html", ".txt", ".mjml", ".md", ".xml"}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _offenders(text: str) -> list[str]:
    return [m.group() for m in MACHINE_PLURAL.finditer(ALLOWED.sub("", text))]


def test_no_machine_plurals_in_messages() -> None:
    problems = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if id(node) in skip:
                    continue
                for found in _offenders(node.value):
                    problems.append(f"{path.relative_to(SRC)}:{node.lineno}: {found}")
    assert problems == [], "\n".join(problems)


def test_no_machine_plurals_in_templates() -> None:
    folders = [SRC, REPO / "templates"]
    problems = []
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.suffix in TEMPLATE_SUFFIXES and path.is_file():
                for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                    for found in _offenders(line):
                        problems.append(f"{path.relative_to(REPO)}:{number}: {found}")
    assert problems == [], "\n".join(problems)


def test_counts_read_as_words() -> None:
    assert count(1, "day") == "1 day" and count(7, "day") == "7 days"
    assert count(0, "item") == "0 items"
    assert count(2, "miss", "misses") == "2 misses"
    assert plural(1, "rendering") == "rendering" and plural(3, "rendering") == "renderings"
    assert count(1_234, "message") == "1,234 messages"
