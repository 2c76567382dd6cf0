"""Small server-rendered SVG charts (no JavaScript, readable on an old phone, printable)."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

__all__ = ["bar_chart", "stacked_weeks"]

PALETTE = ("#1f5fa8", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#c62828", "#5d4037", "#546e7a")


def bar_chart(rows: Sequence[tuple[str, float]], *, unit: str = "", width: int = 640, title: str = "") -> Markup:
    """Horizontal bars, one per row (label, value), largest first as given."""
    if not rows:
        return Markup('<p class="muted">没有数据。</p>')
    bar_h, gap, label_w = 24, 8, 150
    height = len(rows) * (bar_h + gap) + gap
    top = max(value for _, value in rows) or 1
    parts = [f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">']
    for i, (label, value) in enumerate(rows):
        y = gap + i * (bar_h + gap)
        w = max(1.0, (width - label_w - 70) * value / top)
        parts.append(f'<text x="{label_w - 6}" y="{y + 17}" text-anchor="end" font-size="14">{escape(label)}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{PALETTE[0]}" rx="3"/>'
                     f'<text x="{label_w + w + 6:.1f}" y="{y + 17}" font-size="14">{_fmt(value)}{escape(unit)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_weeks(weeks: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *, width: int = 720,
                  title: str = "") -> Markup:
    """Vertical stacked bars per week (x) with a legend; ``series`` are (name, one value per week)."""
    if not weeks:
        return Markup('<p class="muted">没有数据。</p>')
    height, left, bottom, top_pad = 260, 40, 40, 30
    totals = [sum(values[i] for _, values in series) for i in range(len(weeks))]
    peak = max(totals) or 1
    step = (width - left - 10) / len(weeks)
    bar_w = max(4.0, step * 0.7)
    scale = (height - bottom - top_pad) / peak
    parts = [f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - 5}" y2="{height - bottom}" stroke="#999"/>',
             f'<text x="{left - 4}" y="{top_pad + 4}" text-anchor="end" font-size="12">{_fmt(peak)}</text>']
    for i, week in enumerate(weeks):
        x = left + i * step + (step - bar_w) / 2
        y = float(height - bottom)
        for s, (name, values) in enumerate(series):
            h = values[i] * scale
            if h <= 0:
                continue
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                         f'fill="{PALETTE[s % len(PALETTE)]}"><title>{escape(week)} {escape(name)}：'
                         f'{_fmt(values[i])}</title></rect>')
        if totals[i]:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" font-size="11">'
                         f'{_fmt(totals[i])}</text>')
        if len(weeks) <= 16 or i % 2 == 0:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                         f'font-size="11">{escape(week[5:])}</text>')
    x = left
    for s, (name, _) in enumerate(series):
        parts.append(f'<rect x="{x}" y="{height - 16}" width="12" height="12" fill="{PALETTE[s % len(PALETTE)]}"/>'
                     f'<text x="{x + 16}" y="{height - 6}" font-size="12">{escape(name)}</text>')
        x += 24 + 14 * len(name)
    parts.append("</svg>")
    return Markup("".join(parts))


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
