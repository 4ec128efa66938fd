"""Query-string values that need more than a type: times (``store.times``, shared with
eval suites) and the error that names the bad parameter."""

from store.times import BadParameter, time_ns

__all__ = ["BadParameter", "time_ns"]
