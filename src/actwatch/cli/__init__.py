"""The `actwatch` command: one click group, each command a thin layer over a stage's library.

Commands live beside the stage they drive (`cli/feeds.py`, `cli/matching.py`, ...) and are
registered in `COMMAND_MODULES`; each module exposes `register(group)`.
"""

from __future__ import annotations

import importlib

from actwatch.cli.base import main

COMMAND_MODULES = (
    "actwatch.cli.setup",
    "actwatch.cli.feeds",
    "actwatch.cli.matching",
    "actwatch.cli.bulletin",
    "actwatch.cli.review",
    "actwatch.cli.editors",
    "actwatch.cli.web",
    "actwatch.cli.demo",
    "actwatch.cli.subscribers",
    "actwatch.cli.send",
    "actwatch.cli.service",
)

for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(main)

__all__ = ["main"]
