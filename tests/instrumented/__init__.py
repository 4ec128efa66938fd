"""Client programs run in subprocesses by the instrumentation tests.

Each instrumentation patches the ``openai`` module in place, so every program runs in a
process of its own and two instrumentations never meet.
"""
