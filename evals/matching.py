"""How an output is compared with a dataset item's expected output, one mode a suite.

- ``exact``: the same text, character for character.
- ``normalized``: the same after :func:`normalize` (Unicode NFKC, case folded, every
  run of punctuation and whitespace one space, trimmed): "The total is $42.50." equals
  "the total is 42 50".
- ``contains``: the normalized expected text is in the normalized output as whole
  words: "42 50" is in "the total is 42 50", "cat" is not in "concatenate".
- ``regex``: the expected output is a pattern searched for (``re.search``, so anchor it
  with ``^...$`` to match the whole output; inline flags such as ``(?i)`` work). Each
  search has a time limit (``evals/regex_sandbox.py``); one over it gives no verdict.
- ``json_schema``: the expected output is a JSON Schema; the output (whole, or a
  single fenced code block) must parse as JSON and validate.
- ``numeric``: the first number of the output against the expected output's number
  (``-1,234.5e3`` forms; thousands separators allowed). They match when
  ``|got - expected| <= max(tolerance, relative_tolerance * |expected|)``: both default
  to 0, an exact comparison of the two numbers as written.

Expectations are prepared once per item (:func:`prepare`: patterns compiled, schemas
checked, numbers read), so a bad item is reported before the run scores anything.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from jsonschema import exceptions as schema_errors
from jsonschema import validators

from evals.regex_sandbox import search_many

Mode = Literal["exact", "normalized", "contains", "regex", "json_schema", "numeric"]

# Not punctuation-or-space runs: letters and digits (any script) are kept. Linear.
_SEPARATORS = re.compile(r"[\W_]+")
# An optional sign, digits with optional thousands groups, a fraction, an exponent.
# The first alternative's groups are comma-delimited, so backtracking stays linear.
# Not inside a word or after a dot: "A12" and "v1.2" are names, not numbers.
_NUMBER = re.compile(
    r"(?<![\w.])[-+\u2212]?(?:(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|\.\d+)"
    r"(?:[eE][-+]?\d+)?"
)
_FENCE = re.compile(r"\A\s*```[A-Za-z0-9_-]*[ \t]*\n(.*?)\n?```\s*\Z", re.DOTALL)
REGEX_TIMEOUT_S = 1.0


@dataclass(frozen=True, slots=True)
class Verdict:
    passed: bool | None
    label: str
    reason: str | None = None


class BadExpectation(ValueError):
    """An expected output that cannot be used in this mode (a pattern that does not
    compile, a schema that is not one, no number)."""


def normalize(text: str) -> str:
    return _SEPARATORS.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def first_number(text: str) -> float | None:
    """The first number written in ``text``, or None."""
    found = _NUMBER.search(text)
    if found is None:
        return None
    return float(found.group().replace(",", "").replace("\u2212", "-"))


def prepare(mode: Mode, expected: str) -> Any:
    """What :func:`check_all` compares outputs with for this item, checked now."""
    if mode == "exact":
        return expected
    if mode == "normalized":
        return normalize(expected)
    if mode == "contains":
        words = normalize(expected)
        if not words:
            raise BadExpectation("no letters or digits to look for")
        return words
    if mode == "regex":
        try:
            re.compile(expected)
        except re.error as error:
            raise BadExpectation(f"not a regular expression: {error}") from None
        return expected
    if mode == "json_schema":
        return _validator(expected)
    number = first_number(expected)
    if number is None or not math.isfinite(number):
        raise BadExpectation("no (finite) number in the expected output")
    return number


def check_all(
    mode: Mode,
    prepared: Sequence[Any],
    outputs: Sequence[str | None],
    *,
    tolerance: float = 0.0,
    relative_tolerance: float = 0.0,
) -> list[Verdict]:
    """One verdict per (prepared expectation, output) pair; a missing output fails."""
    if mode == "regex":
        return _regex(prepared, outputs)
    verdicts = []
    for expected, output in zip(prepared, outputs, strict=True):
        if output is None:
            verdicts.append(Verdict(False, "no_output", "the trace has no output"))
        elif mode == "exact":
            verdicts.append(_verdict(output == expected))
        elif mode == "normalized":
            verdicts.append(_verdict(normalize(output) == expected))
        elif mode == "contains":
            verdicts.append(_verdict(f" {expected} " in f" {normalize(output)} "))
        elif mode == "json_schema":
            verdicts.append(_schema(expected, output))
        else:
            verdicts.append(_numeric(expected, output, tolerance, relative_tolerance))
    return verdicts


def _verdict(matched: bool) -> Verdict:
    return Verdict(True, "match") if matched else Verdict(False, "mismatch")


def _regex(patterns: Sequence[Any], outputs: Sequence[str | None]) -> list[Verdict]:
    pairs = zip(patterns, outputs, strict=True)
    found = iter(search_many([(p, o) for p, o in pairs if o is not None], REGEX_TIMEOUT_S))
    verdicts = []
    for output in outputs:
        if output is None:
            verdicts.append(Verdict(False, "no_output", "the trace has no output"))
            continue
        result = next(found)
        if result is None:
            verdicts.append(
                Verdict(None, "regex_timeout", f"the search ran over {REGEX_TIMEOUT_S:g} s")
            )
        else:
            verdicts.append(_verdict(result))
    return verdicts


def _validator(text: str) -> Any:
    try:
        schema = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise BadExpectation(f"the JSON Schema is not JSON: {error}") from None
    if not isinstance(schema, dict | bool):
        raise BadExpectation("a JSON Schema is an object or a boolean")
    cls = validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except schema_errors.SchemaError as error:
        raise BadExpectation(f"not a valid JSON Schema: {_clip(error.message)}") from None
    return cls(schema)


def _schema(validator: Any, output: str) -> Verdict:
    fenced = _FENCE.match(output)
    try:
        document = orjson.loads(fenced.group(1) if fenced else output)
    except orjson.JSONDecodeError as error:
        return Verdict(False, "not_json", f"the output is not JSON: {error}")
    try:
        problem = schema_errors.best_match(validator.iter_errors(document))
    except RecursionError:
        return Verdict(False, "mismatch", "the output is nested too deeply to validate")
    except Exception as error:  # a $ref that cannot be resolved (never fetched), ...
        return Verdict(None, "schema_error", f"the schema could not be applied: {error}")
    if problem is None:
        return Verdict(True, "match")
    where = "/".join(str(part) for part in problem.absolute_path)
    return Verdict(False, "mismatch", _clip(f"at /{where}: {problem.message}"))


def _numeric(expected: float, output: str, tolerance: float, relative: float) -> Verdict:
    got = first_number(output)
    if got is None:
        return Verdict(False, "no_number", "no number in the output")
    allowed = max(tolerance, relative * abs(expected))
    # Slack for binary fractions: 10.1 - 10 is 0.0999999999999996, within 0.1.
    slack = 1e-9 * max(1.0, abs(expected))
    if math.isfinite(got) and abs(got - expected) <= allowed + slack:
        return Verdict(True, "match")
    return Verdict(False, "mismatch", f"{got:g} is not within {allowed:g} of {expected:g}")


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
