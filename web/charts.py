"""Server-rendered SVG charts (pygal), safe to inline in a page under our CSP.

pygal is built for interactive charts: it always writes an inline ``<script>`` holding
its config (the labels included) and, unless told otherwise, a ``<script>`` tag that
loads its tooltip code from a CDN. The dashboard's CSP (``script-src 'self'``) would
block both and report a console error, and a CDN request leaks who looks at what. So
every chart is built with ``js=[]`` and passed through :func:`_inert`, which drops
every script element, comment and event-handler attribute from the tree before it is
serialized, and turns pygal's hidden ``<desc>`` tooltip data into native ``<title>``
tooltips that need no script at all.

Labels and series names are untrusted (agent and tool names come from spans). pygal
puts them in text nodes and the XML serializer escapes them; nothing here builds markup
by string concatenation. The SVG is then marked safe (:class:`markupsafe.Markup`) as
the one kind of HTML reasonlens itself writes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from xml.etree.ElementTree import Element

import pygal
from markupsafe import Markup
from pygal.style import Style

# pygal appends an import hook to sys.meta_path for its map plugins (unused here) that
# has only the find_module method Python 3.4 deprecated: every import that falls through
# to it (httpcore's optional ``import trio``, say) then warns ImportWarning, an error
# under pytest's ``filterwarnings = error``. The hook is pygal's alone; removing it
# changes nothing else.
sys.meta_path[:] = [hook for hook in sys.meta_path if not isinstance(hook, pygal.PluginImportFixer)]

# The dashboard's palette (web/static/style.css), then enough distinct hues for a
# page's agents and versions.
COLORS = (
    "#2f5fd0", "#c62828", "#0b8a6a", "#b26a00", "#6a4bc4",
    "#00838f", "#ad1457", "#5d6d1e", "#4e342e", "#37474f",
)  # fmt: skip
STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#1d2430",
    foreground_strong="#1d2430",
    foreground_subtle="#5b6678",
    font_family='system-ui, -apple-system, "Segoe UI", sans-serif',
    label_font_size=11,
    major_label_font_size=11,
    legend_font_size=12,
    title_font_size=13,
    tooltip_font_size=12,
    no_data_font_size=14,
    guide_stroke_color="#dde2ea",
    major_guide_stroke_color="#dde2ea",
    opacity=".85",
    opacity_hover="1",
    transition="0ms",
    colors=COLORS,
)
Series = Sequence[tuple[str, Sequence[float | None]]]
LEGEND_COLUMNS = 3
Formatter = Callable[[float], str]


def line(
    title: str,
    labels: Sequence[str],
    series: Series,
    *,
    formatter: Formatter | None = None,
    height: int = 300,
) -> Markup:
    """Values over time buckets, one line per series."""
    chart = pygal.Line(**_config(title, labels, formatter, height), show_dots=len(labels) <= 60)
    return _render(chart, series)


def bars(
    title: str,
    labels: Sequence[str],
    series: Series,
    *,
    stacked: bool = False,
    formatter: Formatter | None = None,
    height: int = 300,
) -> Markup:
    """Bars per label, side by side (two cohorts' distributions) or stacked (a total split
    by agent and version)."""
    kind = pygal.StackedBar if stacked else pygal.Bar
    chart = kind(**_config(title, labels, formatter, height))
    return _render(chart, series)


def _config(
    title: str, labels: Sequence[str], formatter: Formatter | None, height: int
) -> dict[str, object]:
    every = max(1, -(-len(labels) // 8))  # at most eight x labels: they must not overlap
    config: dict[str, object] = {
        "js": [],  # no CDN script; the inline config script is removed by _inert
        "disable_xml_declaration": True,  # inlined in HTML, not a standalone file
        "style": STYLE,
        "title": title,
        "x_labels": list(labels),
        "x_labels_major": list(labels[::every]),
        "show_minor_x_labels": False,
        "truncate_legend": 24,
        "truncate_label": 18,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": LEGEND_COLUMNS,
        "width": 640,
        "height": height,
        "margin": 8,
        "include_x_axis": True,
        "print_zeroes": False,
        "no_data_text": "no data",
    }
    if formatter is not None:
        config["value_formatter"] = formatter
    return config


def _render(chart: pygal.graph.graph.Graph, series: Series) -> Markup:
    # pygal does not leave room below the plot for every row of a bottom legend (none at
    # all with fewer series than columns): a margin of one row per row keeps them in view.
    rows = -(-len(series) // LEGEND_COLUMNS)
    chart.config.margin_bottom = 8 + 18 * rows
    chart.add_xml_filter(_inert)
    for name, values in series:
        chart.add(name, list(values))
    return Markup(chart.render(is_unicode=True))


def _inert(root: Element) -> Element:
    """Remove what could run or fetch; give data points script-free tooltips."""
    for element in root.iter():
        if element.attrib:
            for name in [key for key in element.attrib if _local(key).lower().startswith("on")]:
                del element.attrib[name]
        described: dict[str | None, str | None] = {}
        for child in list(element):
            tag = child.tag
            if not isinstance(tag, str) or _local(tag) == "script":
                element.remove(child)  # scripts, and comments (whose tag is a function)
            elif _local(tag) == "desc":
                described[child.get("class")] = child.text
        if described.get("value"):
            title = Element("title")
            label = described.get("x_label")
            title.text = f"{label}: {described['value']}" if label else described["value"]
            element.insert(0, title)
    return root


def _local(tag: str) -> str:
    """``{namespace}name`` -> ``name``."""
    return tag.rsplit("}", 1)[-1]
