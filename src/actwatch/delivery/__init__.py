"""Delivery: the approved bulletin to every confirmed subscriber, exactly once.

- `compose`: one rendering per distinct choice of strands, each reader's token dropped in;
- `ledger`: the deliveries table (claims, `sending`, outcomes, possibly-sent rows);
- `pool`: worker threads, each with a reused SMTP connection, and the rate limit;
- `run`: the send loop and its report, `dry_run` (.eml files) and `send_one` (a test send).
"""

from actwatch.delivery.compose import DeliveryError, Renderer, SiteLinks, list_id
from actwatch.delivery.ledger import claim, counts, prepare, stale_sending
from actwatch.delivery.run import SendReport, dry_run, send_bulletin, send_one, smtp_factory

__all__ = [
    "DeliveryError",
    "Renderer",
    "SendReport",
    "SiteLinks",
    "claim",
    "counts",
    "dry_run",
    "list_id",
    "prepare",
    "send_bulletin",
    "send_one",
    "smtp_factory",
    "stale_sending",
]
