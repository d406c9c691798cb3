"""Prefect server and workers as Windows services.

- `spec`: the ServiceSpec, everything about one service in one model, built from parameters.
- `state`: what the machine has now (read through the system adapter), as plain data.
- `validate`: the pre-flight checks, reusing the diagnosis gatherers and checks.
- `plan`: pure planners, (desired spec, current state) -> ordered actions.
- `apply`: carry out a plan through the adapter, undoing what was done when a step fails.
- `health`: is a server healthy, does a worker heartbeat (HTTP only, no processes).
"""
