"""Structured logs: one JSON object a line, with the fields a job passes in `extra`."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from actwatch.logs import configure_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_json_lines(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("json", logging.INFO, out)
    log = logging.getLogger("actwatch.service")
    log.info("polled %s feeds", 7, extra={"event": "poll", "new_items": 3})
    log.debug("not shown")
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        log.exception("job %s failed", "poll", extra={"job": "poll"})
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "polled 7 feeds"
    assert (first["level"], first["logger"], first["event"], first["new_items"]) == (
        "info",
        "actwatch.service",
        "poll",
        3,
    )
    assert first["time"].endswith("+00:00")
    assert second["job"] == "poll" and "ValueError: bad" in second["exception"]


def test_text_lines_and_quiet_probes(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("text", logging.INFO, out)
    logging.getLogger("actwatch.service").info("drafted", extra={"season": "autumn-2017"})
    access = logging.getLogger("uvicorn.access")
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", "/healthz", "1.1", 200)
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", "/readyz", "1.1", 503)
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", "/editor/", "1.1", 200)
    text = out.getvalue()
    assert "INFO actwatch.service: drafted season=autumn-2017" in text
    assert "/healthz" not in text  # a probe that succeeds is not worth a line
    assert "/readyz" in text and "/editor/" in text
