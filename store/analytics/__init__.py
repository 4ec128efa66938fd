"""Aggregates over trace rollups: the overview's health over time (``overview``) and the
compare page's cohorts (``compare``), on SQLite and PostgreSQL; what both use is in
``figures``.

Everything that adds up (counts, errors, escalations, cost, tokens, calls) is summed in
SQL and folded in Python. Latency percentiles do not add up: PostgreSQL computes them
with ``percentile_cont``; SQLite has none, so there the durations are fetched (through
the DBAPI cursor: two small integers a trace) and numpy interpolates the same way.

What keeps a page fast at 1,000,000 spans (figures on a 2-core VM, 160,000 traces in the
day): every statement reads an index that covers it, never a table's rows (a trace row
carries its root's text; a span row its messages). Revision 0004 adds them:
``ix_traces_analytics`` (project, agent, version, start, then every figure and the trace
id), and partial indexes of tool and model calls keyed by trace (the mixes) or by time
(failing tools). On SQLite each agent version's window is one range of the first, so
statements go one agent version at a time (``overview._slices``); PostgreSQL hash-aggregates
the window in one. Independent statements run on two threads (``figures.beside``).

Definitions the pages state:

- *escalated*: the trace called a tool whose name says it hands over to a person
  (``store.rollup.ESCALATION_TOOL_PATTERNS``); a rollup column, so counting costs nothing.
- *steps*: LLM calls plus tool calls (agent and chain spans are wrappers, not steps).
- *cost per trace*: the mean over traces that reported a cost (unknown is not $0);
  *cost per successful trace*: all known cost divided by the traces that succeeded, i.e.
  what one success really costs, the failures' spend included.
- *tool mix*, *model mix*: tool calls by tool name; LLM and embedding calls by the model
  that served them (agent spans, which repeat their calls' model, are not counted).
"""
