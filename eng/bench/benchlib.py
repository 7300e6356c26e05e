"""Shared pieces of the benchmark reports (eng/bench/relay/report.py, eng/bench/http/report.py)."""
import re


def to_ms(text):
    """wrk's latency text ("812.00us", "1.20ms", "2.00s", "1.00m") in milliseconds."""
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(text)
    v, u = float(m.group(1)), m.group(2)
    return v * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[u]


def svg_target(out, x, target, y, bar_h):
    """The dashed target line across one bar."""
    tx = x(target)
    out.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{y - 3}" y2="{y + bar_h + 3}" stroke="black" '
               f'stroke-dasharray="4,3"/>')


def svg_axes(out, x, left, top, bottom, vmax, step, decimals):
    """The 1.0 line, the left axis and the ticks below the bars, then closes the SVG; returns its text."""
    out.append(f'<line x1="{x(1):.1f}" x2="{x(1):.1f}" y1="{top - 4}" y2="{bottom}" stroke="#888"/>')
    out.append(f'<line x1="{left}" x2="{left}" y1="{top - 4}" y2="{bottom}" stroke="black"/>')
    t = 0.0
    while t <= vmax + 1e-9:
        out.append(f'<text x="{x(t):.1f}" y="{bottom + 16}" text-anchor="middle" fill="#555">{t:.{decimals}f}</text>')
        t += step
    out.append("</svg>")
    return "\n".join(out) + "\n"


def percentile(values, q):
    """The Q-th percentile (0-100) of VALUES by the nearest-rank method; None when VALUES is empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100), at least 1
    return ordered[int(rank) - 1]
