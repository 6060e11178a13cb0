"""The load channel: bounded, stepped load with Locust, judged afterwards from the outside.

Locust patches the process with gevent when it is imported, so only `harness.load.users` (which
runs inside the Locust subprocess) and the locustfiles under `scenarios/load/` import it. The
rest of this package is plain: `plan` (the stages and bounds a run gives Locust), `runner`
(starts Locust as a subprocess: one process, or a master and K workers with `--workers K`),
`display` (its live progress), `forms` (a pages-only site's browser steps as form posts over
HTTP, for its users and for the accounts made before the load), `judge` (per-stage leak-rate
bounds, the reconciliation of receipts, acknowledgement latency), `scenario` (the checks after
the run, and the stages as observations) and `cli` (`harness load`).
"""
