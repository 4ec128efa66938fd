"""Drift: a current cohort of traces against a baseline cohort (an agent version or a
time window), metric by metric.

stats     the tests on two samples: KS, PSI and effect sizes; chi-square and
          Jensen-Shannon for categories and step-sequence n-grams (pure, scipy)
metrics   which metrics there are and how each is read off a cohort
cohort    a cohort's per-trace values, from a run's chunks or from the store
baseline  a baseline spec (version, window, known_good) turned into a trace filter
report    both cohorts through every metric's test into one JSON-able report
options   the drift evaluator's options (suites) and thresholds

Nothing here is imported by ``evals.suite`` except ``options``, which imports nothing
of the package: a suite can be read without scipy loaded.
"""
