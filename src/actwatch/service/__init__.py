"""The long-running service: `actwatch serve` (scheduler and web in one supervised process),
`actwatch send-worker` and `actwatch status`.

- `runner`: the process: lock, signals, uvicorn in a thread, orderly shutdown;
- `scheduler`, `jobs`: APScheduler and the idempotent, database-driven jobs;
- `drafting`, `sending`, `housekeeping`: when to draft, who sends, what retention removes.

The scheduler lock lives in `actwatch.db.lock`; the heartbeat, status and metrics in
`actwatch.monitor`, which the web app's probes read without importing the service.
"""
