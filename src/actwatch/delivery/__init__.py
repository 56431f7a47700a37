"""Delivery: the approved bulletin to every confirmed subscriber, exactly once.

- `compose`: one rendering per distinct choice of strands, each reader's token dropped in;
- `ledger`: the deliveries table (claims, `sending`, outcomes, possibly-sent rows);
- `pool`: worker threads, each with a reused SMTP connection, and the rate limit;
- `faults`: what each mail fault means (server, recipient, message) and so what is done;
- `run`: the send loop and its report, and `dry_run` (.eml files); a test send to one address
  is review's `send_test_copy` (the one path, for the CLI and the web editor alike);
- `report`: the one report of a bulletin's send (counts, top errors, blocked, overdue, stalled)
  that every face shows, and `retry` to put failed rows or a blocked bulletin back in the queue.
"""

from actwatch.delivery.compose import DeliveryError, Renderer, SiteLinks, list_id
from actwatch.delivery.ledger import claim, counts, prepare, stale_sending
from actwatch.delivery.pool import Backoff, Breaker
from actwatch.delivery.report import DeliveryReport, delivery_report, retry, sends_to_check
from actwatch.delivery.run import SendReport, dry_run, send_bulletin, smtp_factory

__all__ = [
    "Backoff",
    "Breaker",
    "DeliveryError",
    "DeliveryReport",
    "Renderer",
    "SendReport",
    "SiteLinks",
    "claim",
    "counts",
    "delivery_report",
    "dry_run",
    "list_id",
    "prepare",
    "retry",
    "send_bulletin",
    "sends_to_check",
    "smtp_factory",
    "stale_sending",
]
