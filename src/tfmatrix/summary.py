"""The table `nox -s bench` ends with: one row per combination of the run."""

from __future__ import annotations

from typing import Any, Iterable

from .matrix import Combination

COLUMNS = ("combination", "outcome", "predicted", "install", "import", "export", "load", "first", "p50", "p90", "p99",
           "throughput", "peak RSS")


def _phase(record: dict[str, Any], phase: str, model: str | None = None, batch: int | None = None) -> dict | None:
    for p in record.get("phases", []):
        if p["phase"] == phase and (model is None or p["model"] == model) and (batch is None or p["batch"] == batch):
            return p
    return None


def _secs(p: dict | None, key: str = "median") -> str:
    if not p or not p.get("summary"):
        return "-" if not p else p["status"]
    mark = "*" if p["status"] == "cached" else ""
    return f"{p['summary'][key]:.2f}s{mark}"


def _ms(p: dict | None, key: str) -> str:
    if not p or not p.get("summary"):
        return "-" if not p else p["status"]
    return f"{p['summary'][key] * 1000:.0f}ms"


def rows(records: Iterable[dict[str, Any]], expected: Iterable[Combination] = ()) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    seen = set()
    for r in records:
        cid = r["combination"]["id"]
        seen.add(cid)
        state = label(r)
        predicted = (r.get("preflight") or {}).get("predicted", "-")
        inst = r.get("install") or {}
        inst_s = "-" if not inst else ("reused" if inst.get("reused") else f"{inst.get('seconds', 0):.0f}s")
        if not r.get("phases"):  # skipped, install-failed: nothing was measured
            out.append((cid, state, predicted, inst_s, *["-"] * 9))
            continue
        models = r["combination"]["models"]
        for m in models:
            name = cid if len(models) == 1 else f"{cid} {m}"
            thr = [p for p in r["phases"] if p["model"] == m and p.get("throughput_ips")]
            thr_s = " ".join(f"b{p['batch']}:{p['throughput_ips']:.1f}/s" for p in thr) or "-"
            rss = [p["peak_rss_bytes"] for p in r["phases"] if p["model"] == m and p.get("peak_rss_bytes")]
            lat = _phase(r, "latency", m, 1)
            out.append((name, state, predicted, inst_s, _secs(_phase(r, "import")), _secs(_phase(r, "export", m)),
                        _secs(_phase(r, "load", m)), _secs(_phase(r, "first-inference", m)),
                        _ms(lat, "p50"), _ms(lat, "p90"), _ms(lat, "p99"), thr_s,
                        f"{max(rss) / 2**20:.0f}MiB" if rss else "-"))
    for c in expected:
        if c.id not in seen:
            out.append((c.id, "not run", *["-"] * 11))
    return out


def label(record: dict[str, Any]) -> str:
    """What a row says: the outcome, and the failure class when there is one."""
    outcome = record.get("outcome") or record["status"]
    failure = record.get("failure") or {}
    cls = failure.get("class")
    if cls and cls != outcome:
        return f"{outcome} ({cls})"
    return outcome


def format_table(table: list[tuple[str, ...]]) -> str:
    all_rows = [COLUMNS, *table]
    widths = [max(len(r[i]) for r in all_rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in all_rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render(run_id: str, records: list[dict[str, Any]], expected: Iterable[Combination] = ()) -> str:
    counts: dict[str, int] = {}
    for r in records:
        key = r.get("outcome") or r["status"]
        counts[key] = counts.get(key, 0) + 1
    head = f"tfmatrix run {run_id}: " + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no records")
    foot = "times are medians; * = export reused from the cache (time of the original export)"
    reasons = []
    for r in records:
        if r.get("reason"):
            reasons.append(f"  {r['combination']['id']}: {label(r)}: {r['reason']}")
        if (r.get("failure") or {}).get("fix") and r.get("outcome") != "expected-failure":
            reasons.append(f"      fix: {r['failure']['fix']}")
    return "\n".join([head, format_table(rows(records, expected)), foot, *reasons])
