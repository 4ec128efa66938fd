"""The dashboard's pages, one module per page, each with its own router.

overview   /                    per-project health over time, by agent and version
traces     /traces              the filterable, sortable trace table
trace      /traces/{trace_id}   one trace: waterfall, span details, reasoning chain
sessions   /sessions            traces grouped by conversation
compare    /compare             two cohorts side by side
drift      /drift               a cohort against a baseline cohort, metric by metric
evals      /evals               eval suites, their runs, a run's scores
eval_compare /evals/compare     two runs of a suite side by side
settings   /settings/prices     a project's custom prices; re-pricing stored costs
budgets    /settings/budgets    a project's cost budgets and where each stands
keys       /settings/keys       a project's API keys: made, shown once, revoked
known_good /known-good          POST: the overview's "mark known good" button
schedules  /evals/schedules     scheduled suites: next and last runs, switches, run now
alerts     /alerts              a project's alerts (open, acknowledged) and alert rules
"""

from __future__ import annotations

from fastapi import APIRouter

from web.pages import (
    alerts,
    budgets,
    compare,
    drift,
    eval_compare,
    evals,
    keys,
    known_good,
    overview,
    schedules,
    sessions,
    settings,
    trace,
    traces,
)

router = APIRouter(include_in_schema=False)
for page in (
    overview,
    traces,
    trace,
    sessions,
    compare,
    schedules,  # before evals: /evals/schedules is not a suite
    drift,
    evals,
    eval_compare,
    settings,
    budgets,
    keys,
    known_good,
    alerts,
):
    router.include_router(page.router)
