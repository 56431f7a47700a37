"""The long-running service: `actwatch serve` (scheduler and web in one supervised process),
`actwatch send-worker` and `actwatch status`.

- `runner`: the process: lock, signals, uvicorn in a thread, orderly shutdown;
- `scheduler`, `jobs`: APScheduler and the idempotent, database-driven jobs;
- `lock`: one scheduler per database (a lock file for SQLite, an advisory lock on PostgreSQL);
- `drafting`, `sending`, `housekeeping`: when to draft, who sends, what retention removes;
- `state`, `status`, `metrics`: the heartbeat and last poll, and the summary built from them.
"""
