"""The `actwatch` command: one click group, each command a thin layer over a stage's library.

Commands live beside the stage they drive (`cli/feeds.py`, `cli/matching.py`, ...); each module
exposes `register(group)`. `COMMANDS` names the module of every command, so that a command
imports only its own module (and through it its stage): `actwatch --version` imports none.
"""

from __future__ import annotations

from actwatch.cli.base import main

COMMANDS: dict[str, str] = {
    **dict.fromkeys(("init", "config"), "actwatch.cli.setup"),
    **dict.fromkeys(("poll", "feeds", "items"), "actwatch.cli.feeds"),
    **dict.fromkeys(("reclassify", "evaluate", "learn"), "actwatch.cli.matching"),
    **dict.fromkeys(("draft", "bulletins", "show"), "actwatch.cli.bulletin"),
    **dict.fromkeys(
        (
            "review",
            "exclude",
            "include",
            "dismiss",
            "summary",
            "move",
            "reorder",
            "add",
            "headline",
            "preheader",
            "intro",
            "submit",
            "approve",
            "reject",
            "withdraw",
            "reopen",
            "schedule",
            "unschedule",
            "test-send",
            "audit",
        ),
        "actwatch.cli.review",
    ),
    "editors": "actwatch.cli.editors",
    "web": "actwatch.cli.web",
    "demo": "actwatch.cli.demo",
    "subscribers": "actwatch.cli.subscribers",
    **dict.fromkeys(("send", "deliveries"), "actwatch.cli.send"),
    **dict.fromkeys(("serve", "send-worker", "status"), "actwatch.cli.service"),
}
COMMAND_MODULES = tuple(dict.fromkeys(COMMANDS.values()))

main.add_lazy(COMMANDS)

__all__ = ["main"]
