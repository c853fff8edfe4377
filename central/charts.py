"""Small inline SVG charts (no JavaScript, no external files)."""

from __future__ import annotations

from collections.abc import Callable

from markupsafe import Markup, escape

COLOURS = ["#1f6f8b", "#e07a1f", "#3a9d23", "#a23b72", "#6c5ce7"]


def _plain(value: float) -> str:
    return f"{value:g}"


def line_chart(days: list[str], series: dict[str, list[float]], width: int = 640,
               height: int = 180, title: str = "",
               number: Callable[[float], str] = _plain) -> Markup:
    """One polyline per series over ``days`` (the days' labels, as the reader writes
    them); axis labels at the ends; a legend. ``number`` writes the scale's top (the
    views pass :func:`central.i18n.number`: "1 200" in French)."""
    pad_l, pad_b, pad_t = 40, 22, 18
    w, h = width - pad_l - 8, height - pad_b - pad_t
    top = max([1.0] + [v for values in series.values() for v in values])
    n = max(1, len(days) - 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} '
             f'{height}" width="100%" aria-label="{escape(title)}">',
             f'<title>{escape(title)}</title>',
             f'<line x1="{pad_l}" y1="{pad_t + h}" x2="{pad_l + w}" y2="{pad_t + h}" '
             'stroke="#999"/>',
             f'<text x="{pad_l - 4}" y="{pad_t + 4}" font-size="11" '
             f'text-anchor="end">{escape(number(top))}</text>',
             f'<text x="{pad_l - 4}" y="{pad_t + h}" font-size="11" text-anchor="end">0</text>']
    if days:
        parts.append(f'<text x="{pad_l}" y="{height - 6}" font-size="11">'
                     f'{escape(days[0])}</text>')
        parts.append(f'<text x="{pad_l + w}" y="{height - 6}" font-size="11" '
                     f'text-anchor="end">{escape(days[-1])}</text>')
    for i, values in enumerate(series.values()):
        colour = COLOURS[i % len(COLOURS)]
        points = " ".join(f"{pad_l + w * j / n:.1f},{pad_t + h - h * v / top:.1f}"
                          for j, v in enumerate(values))
        if len(values) == 1:
            x, y = points.split(",")
            parts.append(f'<circle cx="{x}" cy="{y}" r="3" fill="{colour}"/>')
        elif values:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                         f'points="{points}"/>')
    parts.append("</svg>")
    # The legend and the axes' ends in HTML under the chart, at the page's own text size:
    # text inside the SVG shrinks with it (about 4 px on a 360 px phone, issue 15).
    legend = "".join(f'<span><i style="background:{COLOURS[i % len(COLOURS)]}"></i>'
                     f'{escape(name)}</span>' for i, name in enumerate(series))
    ends = (f'<span class="ends">{escape(days[0])} → {escape(days[-1])} · '
            f'0–{escape(number(top))}</span>' if days else "")
    parts.append(f'<p class="legend">{legend}{ends}</p>')
    return Markup("".join(parts))  # noqa: S704 - every value above is escaped


def bar_chart(items: list[tuple[str, float | None]], title: str = "", unit: str = "%",
              width: int = 640) -> Markup:
    """Horizontal bars, one per (label, value); ``unit`` "%" reads values as shares
    (0-1) on a 0-100 % scale, else as counts against the largest. The labels and values
    are HTML beside each bar, at the page's text size (readable on a phone and on
    paper); a missing value (None) is a bar of nothing, labelled "—"."""
    top = 1.0 if unit == "%" else max([1.0] + [float(v) for _l, v in items if v is not None])
    rows = []
    for i, (label, value) in enumerate(items):
        colour = COLOURS[i % len(COLOURS)]
        if value is None:
            text, frac = "—", 0.0
        elif unit == "%":
            text, frac = f"{round(100 * value)} %", min(max(float(value), 0.0), 1.0)
        else:
            text, frac = f"{value:g}", float(value) / top
        rows.append(
            f'<li><span class="bar-label" dir="auto">{escape(label)}</span>'
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} 14" '
            f'preserveAspectRatio="none" aria-hidden="true" focusable="false">'
            f'<rect width="{width}" height="14" fill="#eef2f4"/>'
            f'<rect width="{width * frac:.1f}" height="14" fill="{colour}"/></svg>'
            f'<span class="bar-value">{escape(text)}</span></li>')
    return Markup(f'<ul class="bars" role="list" aria-label="{escape(title)}">'  # noqa: S704
                  f'{"".join(rows)}</ul>')
