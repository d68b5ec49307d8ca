"""The report's figures: matplotlib, drawn as SVG and inlined as data URIs.

An SVG in an ``<img>`` cannot run scripts, and a data URI needs no network
and no second file, so the page stays self-contained and safe whatever the
labels (combination names come from the user's matrix) contain.  The SVG is
reproducible: a fixed hash salt and no date in its metadata.
"""

from __future__ import annotations

import base64
import io
from typing import Callable

import pandas as pd

from ..records.model import CombinationRecord
from ..records.quantity import BYTES, IMAGES_PER_SECOND, SECONDS, Scale, axis_scale
from .view import Plot

ROW_HEIGHT = 0.32  # inches per bar row
WIDTH = 7.5
MAX_LEGEND = 16
#: combinations a figure draws at most: beyond that (a run of 1,000 combinations) it draws the worst ones and says
#: so in its title; a 1,000-row bar chart is 320 inches tall, unreadable, and took ~20 s of the report (2026-12-07)
MAX_ROWS = 100


def _pyplot():  # -> matplotlib.pyplot, headless and styled
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "tfmatrix", "svg.fonttype": "none", "font.size": 9,
                         "axes.spines.top": False, "axes.spines.right": False})
    return plt


def _figure(rows: int):  # -> (Figure, Axes)
    return _pyplot().subplots(figsize=(WIDTH, max(1.8, 0.9 + ROW_HEIGHT * rows)), layout="constrained")


def _svg_uri(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _label(row: pd.Series | dict, several_models: bool) -> str:
    cid = row["combination_id"]
    return f"{cid} · {row['model']}" if several_models and row.get("model") else cid


def _errors(sub: pd.DataFrame, scale: Scale) -> list[list[float]]:
    """Asymmetric error bars, in the axis' scale: the 99 % CI where there is one, else the min-max range."""
    lo = sub["ci_low"].fillna(sub["min"]).astype(float)
    hi = sub["ci_high"].fillna(sub["max"]).astype(float)
    med = sub["median"].astype(float)
    return [[scale.of(x) for x in med - lo], [scale.of(x) for x in hi - med]]


def _worst(sub: pd.DataFrame, several_models: bool, higher_is_worse: bool = True) -> tuple[pd.DataFrame, str]:
    """At most :data:`MAX_ROWS` combinations of ``sub``: those whose medians add up worst; and the title's note."""
    labels = sub.apply(lambda r: _label(r, several_models), axis=1)
    totals = sub["median"].astype(float).groupby(labels, sort=False).sum()
    if len(totals) <= MAX_ROWS:
        return sub, ""
    keep = set((totals.nlargest if higher_is_worse else totals.nsmallest)(MAX_ROWS).index)
    word = "slowest" if higher_is_worse else "lowest"
    return sub[labels.isin(keep)], f" (the {MAX_ROWS} {word} of {len(totals)}; the tables have every one)"


def plot_phase_times(frame: pd.DataFrame, several_models: bool) -> Plot | None:
    sub = frame[frame.metric.isin(["load", "first-inference"])]
    if sub.empty:
        return None
    sub, note = _worst(sub, several_models)
    labels = list(dict.fromkeys(_label(r, several_models) for r in sub.to_dict("records")))
    fig, ax = _figure(len(labels))
    height = 0.38
    scale = axis_scale(SECONDS, sub["median"])
    for i, (metric, colour) in enumerate((("load", "#4c72b0"), ("first-inference", "#dd8452"))):
        part = sub[sub.metric == metric]
        ys = [labels.index(_label(r, several_models)) + (i - 0.5) * height for r in part.to_dict("records")]
        ax.barh(ys, [scale.of(x) for x in part["median"]], height=height, xerr=_errors(part, scale), color=colour,
                capsize=2, label="cold load" if metric == "load" else "first inference")
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlabel(scale.label("median time") + "; bars: 99% CI, or min–max below 8 samples")
    fig.legend(loc="outside upper right", ncols=2, frameon=False)
    return Plot("Load and first-inference time" + note, "Bar chart of cold load and first-inference seconds per combination",
                _svg_uri(fig))


def plot_latency(frame: pd.DataFrame, several_models: bool) -> Plot | None:
    sub = frame[frame.metric == "latency"]
    if sub.empty:
        return None
    sub, note = _worst(sub, several_models)
    fig, ax = _figure(len(sub))
    scale = axis_scale(SECONDS, (x for xs in sub["samples"] for x in xs))
    ax.boxplot([[scale.of(x) for x in xs] for xs in sub["samples"]], orientation="horizontal", widths=0.6,
               tick_labels=[_label(r, several_models) for r in sub.to_dict("records")], showfliers=True)
    ax.invert_yaxis()
    ax.set_xlabel(scale.label("latency per call, batch 1") + "; box: quartiles, whiskers: 1.5 IQR")
    return Plot("Latency distribution (batch 1)" + note, "Box plot of batch-1 latency samples per combination", _svg_uri(fig))


def plot_throughput(frame: pd.DataFrame, several_models: bool) -> Plot | None:
    sub = frame[frame.metric.str.startswith("throughput[")]
    if sub.empty:
        return None
    sub, note = _worst(sub, several_models, higher_is_worse=False)
    fig, ax = _figure(6)
    scale = axis_scale(IMAGES_PER_SECOND, sub["median"])
    groups = sub.groupby(sub.apply(lambda r: _label(r, several_models), axis=1), sort=False)
    for label, part in groups:
        part = part.sort_values("batch")
        ax.errorbar(part["batch"], [scale.of(x) for x in part["median"]], yerr=_errors(part, scale), marker="o",
                    capsize=2, label=label)
    ax.set_xlabel("batch size")
    ax.set_ylabel(scale.label("throughput, median"))
    ax.set_xticks(sorted(sub["batch"].unique()))
    if groups.ngroups <= MAX_LEGEND:  # beyond that a legend hides the plot; the table has the numbers
        fig.legend(loc="outside right upper", fontsize=7, frameon=False)
    return Plot("Throughput vs batch size" + note, "Line chart of images per second against batch size per combination",
                _svg_uri(fig))


def plot_memory(frame: pd.DataFrame, several_models: bool) -> Plot | None:
    sub = frame[frame.metric == "peak-rss"]
    if sub.empty:
        return None
    sub, note = _worst(sub, several_models)
    fig, ax = _figure(len(sub))
    scale = axis_scale(BYTES, sub["median"])
    ax.barh([_label(r, several_models) for r in sub.to_dict("records")], [scale.of(x) for x in sub["median"]],
            color="#55a868")
    ax.invert_yaxis()
    models = sub["model"].notna()  # an --import-only record's peak is its import's
    what = "load + inference" if models.all() else "import" if not models.any() else "load + inference, or import alone"
    ax.set_xlabel(scale.label(f"peak host RSS of {what}"))
    return Plot("Peak memory" + note, "Bar chart of peak resident memory per combination", _svg_uri(fig))


PLOTTERS: tuple[Callable[[pd.DataFrame, bool], Plot | None], ...] = (
    plot_phase_times, plot_latency, plot_throughput, plot_memory)


def plot_gpu_telemetry(records: list[CombinationRecord]) -> Plot | None:
    """GPU utilization and memory over the batch-1 latency phase of each GPU combination (NVML samples)."""
    series = []
    for r in records:
        for p in r.phases:
            tele = p.telemetry or {}
            if p.phase == "latency" and tele.get("available"):
                for index, gpu in sorted(tele["gpus"].items()):
                    label = r.id + (f" · GPU {index}" if len(tele["gpus"]) > 1 else "")
                    series.append((label, gpu["series"]))
    if not series:
        return None
    fig, (util_ax, mem_ax) = _pyplot().subplots(2, 1, figsize=(WIDTH, 4.2), sharex=True, layout="constrained")
    scale = axis_scale(BYTES, (m for _, s in series for m in s["memory_used_bytes"]))
    for label, s in series:
        util_ax.plot(s["t"], s["utilization_pct"], label=label)
        mem_ax.plot(s["t"], [scale.of(m) if m is not None else None for m in s["memory_used_bytes"]], label=label)
    util_ax.set_ylabel("GPU utilization (%)")
    mem_ax.set_ylabel(scale.label("memory used"))
    mem_ax.set_xlabel("seconds into the latency phase (NVML samples)")
    if len(series) <= MAX_LEGEND:
        fig.legend(*util_ax.get_legend_handles_labels(), loc="outside right upper", fontsize=7, frameon=False)
    return Plot("GPU telemetry (batch-1 latency phase)",
                "Line charts of GPU utilization and memory used over the latency phase per combination", _svg_uri(fig))


def draw_all(frame: pd.DataFrame, records: list[CombinationRecord] | None = None) -> list[Plot]:
    """Every plot the data allows: the timing plots from the metrics, the telemetry plot from the records."""
    out: list[Plot] = []
    if not frame.empty:
        several_models = frame["model"].dropna().nunique() > 1
        out = [p for p in (plotter(frame, several_models) for plotter in PLOTTERS) if p is not None]
    if records:
        tele = plot_gpu_telemetry(records)
        if tele is not None:
            out.append(tele)
    return out
