"""Alerts: rules checked against what reasonlens sees, and a webhook told of each.

runs       a finished run against its suite's rules (threshold failed, drift, cost per
           trace, error and escalation rate); the runner calls it once per run
project    a thread that checks the project rules (budgets, runaway traces) every
           ``alert_check_seconds``
delivery   a thread that sends each pending alert to its webhook, retrying with
           exponential backoff; the attempts live in the alert row (``store/alert_outbox.py``)

Every condition is raised once (``store/alerts.py``'s dedupe keys), so checking again,
or from two processes, never announces it twice.
"""
