"""Grouped bar charts of benchmark results, as SVG, for docs/benchmarks.md.

Each benchmark script draws its own charts from the figures it has just measured, so a
chart never shows numbers the tables next to it do not. One function::

    bar_chart("docs/img/codecs.svg", "Encode a request", "µs per call",
              {"[1,784] float32": {"aioeas": (1.9, 1.8, 2.1), "eas-prediction": (310, 300, 330)}},
              log=True)

``groups`` maps each case (a group of bars on the x axis) to its contenders, each a
``(median, low, high)``: the bar is the median, the error bar spans low..high (the spread:
quartiles or min..max, as the script's table says). Contenders keep one colour and one
place in every group, so they compare side by side. ``log=True`` when the values differ by
orders of magnitude (``needs_log`` says when); bars then start at a round power of ten
below the smallest value.

matplotlib is optional (``pip install 'aioeas[bench]'``): without it the scripts still run
and print their tables, and ``bar_chart`` prints a note instead of drawing. The SVG is made
reproducible (no date, a fixed id salt) so that a chart redrawn from the same numbers does
not change in git.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["Groups", "bar_chart", "needs_log"]

#: case -> contender -> (median, low, high)
Groups = Mapping[str, Mapping[str, tuple[float, float, float]]]

#: Colour-blind-safe (Okabe-Ito), in the order contenders first appear.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


def needs_log(groups: Groups, factor: float = 30.0) -> bool:
    """Whether the medians span more than ``factor`` (a log axis shows them all)."""
    values = [v[0] for case in groups.values() for v in case.values() if v[0] > 0]
    return bool(values) and max(values) / min(values) > factor


def _label(value: float) -> str:
    """Three significant digits or so, with k and M for thousands and millions."""
    if value >= 1e6:
        return f"{value / 1e6:.3g}M"
    if value >= 1e4:
        return f"{value / 1e3:.3g}k"
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2g}" if value < 1 else f"{value:.2f}"


def bar_chart(path: str | Path, title: str, unit: str, groups: Groups, log: bool = False) -> bool:
    """Draw ``groups`` as grouped bars with error bars into the SVG ``path``.

    Returns whether a chart was written: ``False``, with a note on stderr, when matplotlib
    is not installed or there is nothing to draw.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(
            f"note: no chart {path}: matplotlib is not installed (pip install 'aioeas[bench]')",
            file=sys.stderr,
        )
        return False
    cases = [c for c, bars in groups.items() if bars]
    contenders: list[str] = []
    for case in cases:
        contenders += [name for name in groups[case] if name not in contenders]
    if not cases:
        print(f"note: no chart {path}: no figures", file=sys.stderr)
        return False

    matplotlib.rcParams["svg.hashsalt"] = "aioeas-benchmarks"
    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: smaller, searchable
    # the bars of a case sit together, centred on it; a contender absent from a case
    # leaves no gap, and keeps its colour everywhere
    present = {case: [n for n in contenders if n in groups[case]] for case in cases}
    width = 0.8 / max(len(names) for names in present.values())
    fig_w = min(11.0, max(6.0, 1.2 + len(cases) * (0.4 + 0.35 * len(contenders))))
    fig, ax = plt.subplots(figsize=(fig_w, 4.2))
    floor = 0.0
    if log:
        smallest = min(low for case in cases for (_, low, _) in groups[case].values() if low > 0)
        floor = 10 ** math.floor(math.log10(smallest))
    for k, name in enumerate(contenders):
        xs, heights, errs_lo, errs_hi, labels = [], [], [], [], []
        for i, case in enumerate(cases):
            if name not in groups[case]:
                continue
            median, low, high = groups[case][name]
            j = present[case].index(name)
            xs.append(i + width * (j + 0.5 - len(present[case]) / 2))
            heights.append(median - floor)
            errs_lo.append(max(0.0, median - low))
            errs_hi.append(max(0.0, high - median))
            labels.append(_label(median))
        bars = ax.bar(
            xs,
            heights,
            width * 0.92,
            bottom=floor,
            label=name,
            color=PALETTE[k % len(PALETTE)],
            yerr=[errs_lo, errs_hi],
            capsize=3,
            error_kw={"elinewidth": 1, "ecolor": "#333333"},
        )
        ax.bar_label(bars, labels=labels, padding=2, fontsize=7, rotation=90 if log else 0)
    ax.set_xticks(range(len(cases)), cases, fontsize=8)
    ax.set_ylabel(unit + (" (log scale)" if log else ""))
    ax.set_title(title, fontsize=11)
    if log:  # room above the tallest error bar for its rotated label: a factor, not a margin
        top = max(high for case in cases for (_, _, high) in groups[case].values())
        ax.set_yscale("log")
        ax.set_ylim(floor, top * 8)
    else:
        ax.margins(y=0.15)
    ax.grid(axis="y", alpha=0.3, which="major")
    ax.set_axisbelow(True)
    ax.legend(
        fontsize=8,
        frameon=False,
        ncols=min(len(contenders), 4 if max(map(len, contenders)) < 16 else 2),
        loc="upper center",
        bbox_to_anchor=(0.5, -0.1),
    )
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    return True
