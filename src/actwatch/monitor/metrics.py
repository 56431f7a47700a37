"""The summary in Prometheus' text exposition format (version 0.0.4), written out directly: a
dozen gauges read from the database on each scrape need no client library."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from actwatch import __version__
from actwatch.core.clock import parse_iso
from actwatch.monitor.status import Summary

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float | int | bool) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


class _Exposition:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def metric(
        self,
        name: str,
        kind: str,
        help_text: str,
        samples: Iterable[tuple[Mapping[str, str], float | int | bool]],
    ) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            rendered = ",".join(f'{key}="{_label(val)}"' for key, val in labels.items())
            self.lines.append(
                f"{name}{{{rendered}}} {_number(value)}" if rendered else f"{name} {_number(value)}"
            )

    def gauge(self, name: str, help_text: str, value: float | int | bool) -> None:
        self.metric(name, "gauge", help_text, [({}, value)])

    def by(self, name: str, label: str, help_text: str, counts: Mapping[str, int]) -> None:
        self.metric(
            name, "gauge", help_text, [({label: key}, value) for key, value in counts.items()]
        )

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def render_metrics(summary: Summary) -> str:
    out = _Exposition()
    out.metric("actwatch_info", "gauge", "actwatch's version.", [({"version": __version__}, 1)])
    out.gauge(
        "actwatch_scheduler_up",
        "1 when a scheduler's heartbeat is fresh.",
        summary.scheduler.alive,
    )
    beat = parse_iso(summary.scheduler.heartbeat_at)
    if beat is not None:
        out.gauge(
            "actwatch_scheduler_heartbeat_timestamp_seconds",
            "When the scheduler last wrote its heartbeat (Unix time).",
            beat.timestamp(),
        )
    out.by("actwatch_feeds", "status", "Feeds by the outcome of their last fetch.", summary.feeds)
    out.metric(
        "actwatch_items_total",
        "counter",
        "Announcements stored.",
        [({}, summary.items)],
    )
    out.by("actwatch_items", "state", "Announcements by the matcher's verdict.", summary.matches)
    poll = summary.last_poll
    finished = parse_iso(poll.finished_at)
    if finished is not None:
        out.gauge(
            "actwatch_last_poll_timestamp_seconds",
            "When the last poll pass finished (Unix time).",
            finished.timestamp(),
        )
        started = parse_iso(poll.started_at)
        if started is not None:
            out.gauge(
                "actwatch_last_poll_duration_seconds",
                "How long the last poll pass took.",
                (finished - started).total_seconds(),
            )
        out.by(
            "actwatch_last_poll_feeds",
            "outcome",
            "Feeds in the last poll pass by outcome.",
            {
                "ok": poll.ok,
                "not_modified": poll.not_modified,
                "failed": poll.failed,
                "skipped": poll.skipped,
            },
        )
        out.gauge(
            "actwatch_last_poll_new_items", "New announcements in the last poll.", poll.new_items
        )
    out.gauge("actwatch_poll_overdue", "1 when no poll finished for too long.", poll.overdue)
    out.by("actwatch_bulletins", "state", "Bulletins by state.", summary.bulletins)
    out.by("actwatch_deliveries", "state", "Delivery rows by state.", summary.deliveries)
    for name, help_text, flag in (
        (
            "blocked",
            "1 when the server refused this bulletin's message (5xx at MAIL or DATA).",
            "blocked",
        ),
        (
            "overdue",
            "1 when this scheduled bulletin's time passed and its send has not started.",
            "overdue",
        ),
        (
            "stalled",
            "1 when this bulletin's messages are due and none has gone out for a while.",
            "stalled",
        ),
    ):
        out.metric(
            f"actwatch_send_{name}",
            "gauge",
            help_text,
            [
                ({"bulletin": str(send.bulletin_id), "season": send.season}, getattr(send, flag))
                for send in summary.sends
            ],
        )
    out.gauge(
        "actwatch_sends_needing_attention",
        "Bulletins whose send is blocked, overdue or stalled.",
        sum(1 for send in summary.sends if send.blocked or send.overdue or send.stalled),
    )
    out.gauge(
        "actwatch_send_rate_messages_per_second",
        "Messages sent per second over the last minute.",
        summary.send_rate,
    )
    out.by("actwatch_subscribers", "status", "Subscribers by status.", summary.subscribers)
    out.by(
        "actwatch_subscriber_mail",
        "state",
        "Confirmation, welcome and links emails by state (queued includes retrying).",
        summary.subscriber_mail,
    )
    return out.text()
