"""The compare page's view model: two cohorts' figures as rows with deltas and verdicts,
their tool and model mix side by side, and the distribution charts.

Pure: it reads :class:`store.analytics.compare.Cohort` figures and formats them; the
route (``web/pages/compare.py``) parses the query and runs the queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from store.analytics.compare import Cohort, MixRow, histogram
from web import charts
from web.templating import fmt_int, fmt_ms, fmt_usd


@dataclass(frozen=True, slots=True)
class Metric:
    """One row of the comparison: a figure for A and B, and what B minus A means."""

    label: str
    a: float | None
    b: float | None
    unit: str  # how to show it: count, rate, usd, ms, number
    better: str | None  # "lower" or "higher" when a change is good or bad
    link: dict[str, str]  # what to add to the cohort's /traces filter

    @property
    def delta(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a

    @property
    def relative(self) -> float | None:
        delta = self.delta
        return None if delta is None or not self.a else delta / abs(self.a)

    @property
    def verdict(self) -> str:
        """better, worse or same (a change under 1% is the same), from B's side."""
        relative, delta = self.relative, self.delta
        if delta is None or self.better is None:
            return "neutral"
        if delta == 0 or (relative is not None and abs(relative) < 0.01):
            return "same"
        up_is_good = self.better == "higher"
        return "better" if (delta > 0) == up_is_good else "worse"

    def show(self, value: float | None) -> str:
        return _format(self.unit, value)

    @property
    def delta_text(self) -> str:
        delta = self.delta
        if delta is None:
            return "\u2013"
        sign = "+" if delta > 0 else "\u2212" if delta < 0 else "\u00b1"
        if self.unit == "rate":
            return f"{sign}{abs(delta) * 100:.1f} pp"
        return sign + _format(self.unit, abs(delta))

    @property
    def relative_text(self) -> str:
        relative = self.relative
        return "" if relative is None else f"{relative * 100:+.0f}%".replace("-", "\u2212")


def _format(unit: str, value: float | None) -> str:
    if value is None:
        return "\u2013"
    match unit:
        case "rate":
            return f"{value * 100:.1f}%"
        case "usd":
            return fmt_usd(value)
        case "ms":
            return fmt_ms(value)
        case "count":
            return fmt_int(value)
        case _:
            return f"{value:,.1f}"


@dataclass(frozen=True, slots=True)
class MixLine:
    """One tool or model: its calls in each cohort, per trace and as a share of all."""

    name: str | None
    a: MixRow | None
    b: MixRow | None
    a_share: float
    b_share: float
    a_per_trace: float | None
    b_per_trace: float | None

    @property
    def delta_share(self) -> float:
        return self.b_share - self.a_share


@dataclass(frozen=True, slots=True)
class Comparison:
    a: Cohort
    b: Cohort
    metrics: list[Metric]
    tools: list[MixLine]
    models: list[MixLine]
    charts: dict[str, Markup]


def comparison(a: Cohort, b: Cohort, labels: tuple[str, str]) -> Comparison:
    sa_, sb = a.stats, b.stats

    def metric(label: str, attribute: str, unit: str, better: str | None, **link: str) -> Metric:
        return Metric(label, getattr(sa_, attribute), getattr(sb, attribute), unit, better, link)

    metrics = [
        metric("Traces", "traces", "count", None),
        metric("Success rate", "success_rate", "rate", "higher", status="ok"),
        metric("Error rate", "error_rate", "rate", "lower", status="error"),
        metric("Escalation rate", "escalation_rate", "rate", "lower"),
        metric("Cost per trace", "cost_per_trace", "usd", "lower", sort="cost"),
        metric("Cost per successful trace", "cost_per_success", "usd", "lower", status="ok",
               sort="cost"),
        metric("Total cost", "cost", "usd", None, sort="cost"),
        metric("Tokens per trace", "tokens_per_trace", "count", "lower", sort="tokens"),
        metric("Latency p50", "p50_ms", "ms", "lower", sort="duration"),
        metric("Latency p95", "p95_ms", "ms", "lower", sort="duration"),
        metric("Steps per trace (LLM + tool calls)", "steps_per_trace", "number", "lower",
               sort="spans"),
        metric("LLM calls per trace", "llm_calls_per_trace", "number", None, sort="spans"),
        metric("Tool calls per trace", "tool_calls_per_trace", "number", None, sort="spans"),
    ]  # fmt: skip
    tools = _mix_lines(a.tools, b.tools, sa_.traces, sb.traces)
    models = _mix_lines(a.models, b.models, sa_.traces, sb.traces)
    return Comparison(a, b, metrics, tools, models, _charts(a, b, tools, labels))


def _mix_lines(a: list[MixRow], b: list[MixRow], a_traces: int, b_traces: int) -> list[MixLine]:
    a_by, b_by = {row.name: row for row in a}, {row.name: row for row in b}
    a_total, b_total = sum(row.calls for row in a), sum(row.calls for row in b)
    names = sorted(
        a_by.keys() | b_by.keys(),
        key=lambda n: (-(_calls(a_by.get(n)) + _calls(b_by.get(n))), n or ""),
    )
    return [
        MixLine(
            name,
            a_by.get(name),
            b_by.get(name),
            _calls(a_by.get(name)) / a_total if a_total else 0.0,
            _calls(b_by.get(name)) / b_total if b_total else 0.0,
            _calls(a_by.get(name)) / a_traces if a_traces else None,
            _calls(b_by.get(name)) / b_traces if b_traces else None,
        )
        for name in names
    ]


def _calls(row: MixRow | None) -> int:
    return 0 if row is None else row.calls


DISTRIBUTIONS = (
    ("latency", "Latency (share of traces)", "duration_ms", fmt_ms),
    ("tokens", "Tokens per trace (share of traces)", "tokens", fmt_int),
    ("cost", "Cost per trace (share of priced traces)", "cost_usd", fmt_usd),
    ("steps", "Steps per trace (share of traces)", "steps", fmt_int),
)
TOP_TOOLS = 10


def _charts(
    a: Cohort, b: Cohort, tools: list[MixLine], labels: tuple[str, str]
) -> dict[str, Markup]:
    """Histograms of both cohorts in shared bins, and their tool calls per trace."""
    names = (f"A: {labels[0]}", f"B: {labels[1]}")
    rendered = {}
    for key, title, attribute, show in DISTRIBUTIONS:
        bins = histogram(getattr(a.values, attribute), getattr(b.values, attribute))
        if bins is None:
            continue
        ticks = _bin_labels(bins.edges, show)
        series = [(names[0], [100 * v for v in bins.a]), (names[1], [100 * v for v in bins.b])]
        rendered[key] = charts.bars(title, ticks, series, formatter=_percent)
    shown = tools[:TOP_TOOLS]
    if shown:
        series = [
            (names[0], [line.a_per_trace for line in shown]),
            (names[1], [line.b_per_trace for line in shown]),
        ]
        ticks = [line.name or "(unnamed)" for line in shown]
        rendered["tools"] = charts.bars("Tool calls per trace", ticks, series, formatter=_two)
    return rendered


def _bin_labels(edges: list[float], show: Any) -> list[str]:
    """Bins as ranges: below the first edge, between two, and the last open-ended (it
    holds the outliers)."""
    last = len(edges) - 2
    labels = []
    for index, low in enumerate(edges[:-1]):
        if index == last:
            labels.append(f"{show(low)}+")
        elif index == 0:
            labels.append(f"< {show(edges[1])}")
        else:
            labels.append(f"{show(low)}\u2013{show(edges[index + 1])}")
    return labels


def _percent(value: float) -> str:
    return f"{value:.1f}%"


def _two(value: float) -> str:
    return f"{value:.2f}"
