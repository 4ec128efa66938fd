"""Realistic, deterministic agent traffic for demos, tests and benchmarks.

Layout, in the order data flows:

- ``agents/``: one module per demo agent: its versions, tools and prompt, and the
  stories it plays out (the scenario features live here, with their rates).
- ``script``: what a run does, independent of any convention; ``features`` labels it.
- ``mix``: which agent, user, session and time each session gets.
- ``writers/``: scripts to OTel spans (timings, tokens, messages), in the OTel GenAI
  or OpenInference conventions, or as openai-v2 instruments an OpenAI client (content
  as log records beside the spans).
- ``generate``: ties them together; writes into any span (and log record) processor.
- ``export``, ``server``, ``command``: the ``reasonlens demo`` command.

Nothing in ``collector``, ``store`` or ``web`` may import this package.
"""

from reasonlens.demo.generate import DEFAULT_SEED, DEFAULT_TRACES, Summary, TraceFacts, generate
from reasonlens.demo.script import Feature

__all__ = ["DEFAULT_SEED", "DEFAULT_TRACES", "Feature", "Summary", "TraceFacts", "generate"]
