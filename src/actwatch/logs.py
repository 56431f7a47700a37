"""Log output for long-running commands: readable lines for a terminal, or one JSON object per
line (`--log-format json`) for journald, Loki and the like.

Fields passed with `extra={...}` (job, bulletin_id, counts) become keys of the JSON object, so a
log pipeline can filter on them without parsing the message.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")

# The attributes every LogRecord has; anything else on a record came from `extra`.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "color_message"}  # uvicorn's copy of the message with colour codes
)
# Probes hit these every few seconds: their successful requests are not worth a line each.
QUIET_PATHS = ("/healthz", "/readyz", "/metrics")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`2026-11-23 19:44:40 INFO actwatch.service: message key=value ...`"""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = {
            key: value
            for key, value in vars(record).items()
            if key not in _STANDARD and not key.startswith("_")
        }
        if extra:
            line += " " + " ".join(f"{key}={value}" for key, value in extra.items())
        return line


class QuietProbes(logging.Filter):
    """Drops uvicorn's access lines for successful health and metrics requests."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 5:
            path, status = str(args[2]).split("?")[0], args[4]
            if path in QUIET_PATHS and isinstance(status, int) and status < 400:
                return False
        return True


# Paths whose last part is a subscriber's token: as good as a password to their subscription.
_TOKEN_PATH = re.compile(r"(/(?:unsubscribe|preferences|subscribe/confirm)/)[^/?#\s]+")


def redact_tokens(text: str) -> str:
    return _TOKEN_PATH.sub(r"\1[token]", text)


class RedactTokens(logging.Filter):
    """Keeps subscribers' link tokens out of uvicorn's access log: an access log is read by more
    people, and kept longer, than a token should be."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_tokens(args[2]), *args[3:])
        elif isinstance(record.msg, str) and not args:
            record.msg = redact_tokens(record.msg)
        return True


def install_access_log_filters() -> None:
    """Idempotent: the web app calls it on start, whoever configured logging."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in access.filters):
        access.addFilter(RedactTokens())


class BusyJobIsNormal(logging.Filter):
    """APScheduler warns each time a job is skipped because its last run is still going (a long
    send); with max_instances=1 that is the design, so it is logged at INFO instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and "maximum number of running instances" in str(
            record.msg
        ):
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def configure_logging(
    log_format: LogFormat = "text", level: int = logging.INFO, stream: TextIO | None = None
) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("uvicorn.access").addFilter(QuietProbes())
    install_access_log_filters()
    logging.getLogger("apscheduler.scheduler").addFilter(BusyJobIsNormal())
    logging.getLogger("apscheduler.executors.default").addFilter(BusyJobIsNormal())
    # One line per job run is noise at INFO: the jobs log what they did themselves.
    if level > logging.DEBUG:
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        logging.getLogger("httpx").setLevel(logging.WARNING)
