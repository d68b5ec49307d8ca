"""Fill the templates and write the report files under reports/.

* ``reports/<run-id>/index.html``: one run's report, a single self-contained file;
* ``reports/latest/index.html``: a copy of the newest run's report;
* ``reports/index.html``: the newest runs, with links to their reports; older runs on
  ``index-2.html``... (:mod:`tfmatrix.report.index`).

Files are written to a temporary name and renamed, so a reader never sees
half a page.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import jinja2

from .. import atomic
from ..errors import ResultsError
from ..records.quantity import Quantity
from ..records.runcache import Cache, RunSummary
from ..records.store import RUN_ID_RE, check_run_id, load_run, now, run_folders
from . import compare_page, index, view
from .drawing import Drawing


def environment() -> jinja2.Environment:
    """Autoescape everything; an undefined name is an error, not an empty string."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("tfmatrix.report", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters["measure"] = lambda value, unit: Quantity(value, unit).text  # 140.2 ms, 5.21 s, 1014 MiB, ×1.50
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text_atomic(str(path), text)


@dataclass(frozen=True)
class Built:
    run_page: Path
    latest: Path | None
    index: Path
    warnings: list[str]


def report_dir(reports_root: Path, run_id: str) -> Path:
    """reports/<run-id>/, for a well-formed run id only (so no path can escape reports/)."""
    return reports_root / check_run_id(run_id, "report run id")


def build_index(runs: list[RunSummary], reports_root: Path, generated_at: str,
                change_points: list[Any] | None = None) -> Path:
    """reports/index.html (the newest runs and change points), index-2.html... (older runs), changepoints.csv;
    from the runs' summaries (:mod:`tfmatrix.records.runcache`)."""
    cps = list(change_points or [])
    rows = [index.row(run, (reports_root / run.run_id / "index.html").exists()) for run in runs]
    pages = index.index_pages(rows, {run.run_id: run.warnings for run in runs}, generated_at, cps,
                              asv=(reports_root / "asv" / "index.html").exists())
    for page in pages:
        write_text_atomic(reports_root / index.page_name(page.number),
                          render("index.html.j2", page=page, generated_at=generated_at))
    for stale in reports_root.glob("index-*.html"):  # pages of a longer history, since pruned
        if stale.name not in {index.page_name(p.number) for p in pages}:
            stale.unlink()
    if cps:
        write_text_atomic(reports_root / index.CSV_NAME, index.changepoints_csv(cps))
    else:
        (reports_root / index.CSV_NAME).unlink(missing_ok=True)
    return reports_root / "index.html"


def build_report(results_root: Path, reports_root: Path, run_id: str | None = None, *, baseline: str | None = None,
                 generated_at: str | None = None, plots: Callable | None = None,
                 change_points: Callable[[list[RunSummary], Cache], list[Any]] | None = None) -> Built:
    """Write the run's page (default: the newest run), the latest copy and the index.

    Only the rendered run is read in full; the index and ``change_points`` (given the summaries and the cache
    that keeps what it derives) read the runs' summaries from ``results/.tfmatrix-history.sqlite``, which reads
    again (in parallel) only the folders that changed since it was written."""
    folders = run_folders(results_root)
    if not folders:
        raise ResultsError(f"{results_root}: no runs yet (run `nox -s bench` first)")
    if run_id is None:
        run_id = folders[-1].name
    elif not RUN_ID_RE.match(run_id) or not (results_root / run_id).is_dir():
        raise ResultsError(f"report: got run id {run_id!r}; expected one of the runs under {results_root}")
    generated_at = generated_at or now()
    with Cache(results_root) as cache:
        runs = cache.summaries(folders)
        # the figures, drawn beside the change points' fits (not beside the readers: at 100k records the readers,
        # each holding a run of 1,000 records, and a drawer holding another took the report past 1 GiB)
        drawing = Drawing(plots, results_root / run_id)
        try:
            cps = change_points(runs, cache) if change_points else []
        except BaseException:
            drawing.close()
            raise
    with drawing:
        from ..fixing.state import verified, verified_line

        run = load_run(results_root / run_id)
        here = report_dir(reports_root, run_id)  # the latest copy sits as deep: the same links work there
        fixes = {cid: (verified_line(s), os.path.relpath(run.path / "fixes" / f"{cid}.json", here))
                 for cid, s in verified(run.path).items()}
        page = view.build_run_page(run, generated_at=generated_at, baseline=baseline,
                                   plots=drawing.plots if plots else None,
                                   change_points=[c for c in cps if c.run_id == run_id], fixes=fixes)
    html = render("run.html.j2", page=page, generated_at=generated_at)
    out = report_dir(reports_root, run_id) / "index.html"
    write_text_atomic(out, html)
    latest = None
    if run_id == folders[-1].name:
        latest = reports_root / "latest" / "index.html"
        write_text_atomic(latest, html)
    index = build_index(runs, reports_root, generated_at, cps)
    return Built(out, latest, index, list(run.warnings))


def write_compare(cmp: Any, path: Path, generated_at: str | None = None) -> Path:
    """The comparison's HTML page, and beside it (:func:`compare_data`) the JSON with every row."""
    generated_at = generated_at or now()
    data = compare_data(path)
    write_text_atomic(data, json_text(cmp.to_json()))
    page = compare_page.build_compare_page(cmp, generated_at, data.name)
    write_text_atomic(path, render("compare.html.j2", page=page, generated_at=generated_at))
    return path


def compare_data(page: Path) -> Path:
    """The JSON beside a compare page: ``BASE_vs_CANDIDATE.json`` beside ``BASE_vs_CANDIDATE.html``."""
    data = page.with_suffix(".json")
    return data if data != page else page.with_name(page.stem + ".rows.json")


def json_text(data: Any) -> str:
    """``data`` as compact JSON: orjson's (10x faster, for a comparison of 300,000 rows) where the ``report`` extra
    installed it, else the standard library's (NaN or infinity in ``data`` is an error, never written as JSON cannot
    read it back)."""
    try:
        import orjson
    except ImportError:
        return json.dumps(data, allow_nan=False, ensure_ascii=False)
    return orjson.dumps(data).decode()
