"""What the running system says about itself, for the service, the web probes and the CLI alike.

- `state`: small facts the service keeps in `service_state` (heartbeat, last poll, housekeeping);
- `status`: the summary read from the database (`collect`) and the readiness checks;
- `metrics`: that summary in Prometheus' text format.

It sits above the stages and below the faces: `service` writes the state, `web` (`/readyz`,
`/metrics`) and `cli` (`actwatch status`) read it, and none of them imports another for it.
"""
