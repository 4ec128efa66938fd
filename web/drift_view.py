"""A drift report (``evals/drift/report.py``) as the pages show it: one line per metric
with both cohorts' summaries, the test's figures, the verdict, and a chart.

Pure: it reads the report dict, whether ``/drift`` just built it or a suite run kept
it in its summary, so both pages show a report the same way. Category names and
n-grams are span text (tool and model names): they reach the page only through
autoescaped templates and pygal's escaped text nodes (``web/charts.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from web import charts
from web.templating import fmt_int, fmt_ms, fmt_usd

SHOWN_CATEGORIES = 3  # in a summary cell; the chart shows more


@dataclass(frozen=True, slots=True)
class MetricLine:
    name: str
    kind: str
    label: str
    verdict: str  # drifted | stable | not enough data
    reason: str
    baseline: str  # the cohort's summary, formatted
    current: str
    statistic: str  # KS D or chi-square, formatted
    p_value: str
    effect: str  # PSI and d, or the JS distance
    threshold: str
    chart: Markup | None


@dataclass(frozen=True, slots=True)
class DriftView:
    report: dict[str, Any]
    lines: list[MetricLine]

    @property
    def drifted(self) -> int | None:
        value = self.report.get("drifted")
        return None if value is None else int(value)

    @property
    def limited(self) -> bool:
        return bool(self.report["baseline"]["limited"] or self.report["current"]["limited"])


def drift_view(report: dict[str, Any]) -> DriftView:
    names = (
        f"baseline: {report['baseline']['label']}",
        f"current: {report['current']['label']}",
    )
    return DriftView(report, [_line(metric, names) for metric in report["metrics"]])


def _line(metric: dict[str, Any], names: tuple[str, str]) -> MetricLine:
    numeric = metric["kind"] == "numeric"
    show = _formatter(metric["unit"])
    summary = _numeric_summary if numeric else _shares_summary
    if numeric:
        effect = f"PSI {_num(metric['psi'])} · d {_num(metric['effect_size'])}"
    else:
        effect = f"JS {_num(metric['divergence'])}"
    threshold = " · ".join(
        f"{key} {_limit(key, value)}" for key, value in metric["threshold"].items()
    )
    return MetricLine(
        name=metric["name"],
        kind=metric["kind"],
        label=metric["label"],
        verdict=metric["verdict"],
        reason=metric["reason"],
        baseline=summary(metric["baseline"], show),
        current=summary(metric["current"], show),
        statistic=_num(metric["statistic"]),
        p_value=_p(metric["p_value"]),
        effect=effect,
        threshold=threshold,
        chart=_chart(metric, names, show),
    )


def _chart(metric: dict[str, Any], names: tuple[str, str], show: Any) -> Markup | None:
    data = metric.get("chart")
    if not data:
        return None
    if metric["kind"] == "numeric":
        labels = _bin_labels(data["edges"], show)
        title = f"{metric['label']} (share of traces)"
    else:
        labels = [str(name) for name in data["categories"]]
        title = metric["label"]
    series = [
        (names[0], [100 * value for value in data["baseline"]]),
        (names[1], [100 * value for value in data["current"]]),
    ]
    return charts.bars(title, labels, series, formatter=_percent, height=260)


def _numeric_summary(summary: dict[str, Any], show: Any) -> str:
    if not summary["n"]:
        return "no values"
    parts = (("mean", summary["mean"]), ("median", summary["median"]), ("p95", summary["p95"]))
    return f"n {fmt_int(summary['n'])} · " + " · ".join(f"{k} {show(v)}" for k, v in parts)


def _shares_summary(summary: dict[str, Any], show: Any) -> str:
    del show
    if not summary["n"]:
        return "none"
    top = list(summary["shares"].items())[:SHOWN_CATEGORIES]
    shares = " · ".join(f"{name} {100 * share:.0f}%" for name, share in top)
    return f"n {fmt_int(summary['n'])} · {shares}"


def _formatter(unit: str) -> Any:
    return {"usd": fmt_usd, "ms": fmt_ms, "count": _count}.get(unit, _num)


def _count(value: float | None) -> str:
    return "\u2013" if value is None else f"{value:,.1f}".removesuffix(".0")


def _num(value: float | None) -> str:
    return "\u2013" if value is None else f"{value:.3g}"


def _p(value: float | None) -> str:
    if value is None:
        return "\u2013"
    return "< 1e-16" if value < 1e-16 else f"{value:.2g}"


def _limit(key: str, value: float) -> str:
    return f"< {value:.2g}" if key == "p_value" else f"\u2265 {value:g}"


def _bin_labels(edges: list[float], show: Any) -> list[str]:
    """Bins as ranges; the last is open-ended (it holds the outliers)."""
    last = len(edges) - 2
    return [
        f"{show(low)}+" if index == last else f"{show(low)}\u2013{show(edges[index + 1])}"
        for index, low in enumerate(edges[:-1])
    ]


def _percent(value: float) -> str:
    return f"{value:.1f}%"
