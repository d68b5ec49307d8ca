"""One bisection, from the question to its answer: candidates from the index, probes, the search, the output.

The question (:class:`Question`) and every probe so far are kept in ``results/<run>/bisection/bisection.json``
after each probe, so an interrupted bisection resumes (``--resume``) with what it measured, and the probes'
records stay in the run folder beside it, readable by ``report`` and ``compare`` like any run's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from packaging.version import Version

from ..atomic import write_json_atomic
from ..errors import TfmatrixError
from ..records.model import CombinationRecord
from ..records.store import RunDir, load, now, read_json, run_folders
from . import candidates as cands
from .criteria import Criterion, MetricCriterion
from .probes import Prober, Slot
from .search import Bisection, Ending, Probe, Verdict, bisect

STATE = "bisection.json"
SCHEMA = 1


@dataclass(frozen=True)
class Question:
    """What a bisection asks; a resumed bisection must ask the same."""

    like: str
    good: str
    bad: str
    criterion: str  # "class=numpy-abi", "failed", "metric import x1.3"
    fixed: bool = False
    include_pre: bool = False
    nightly: bool = False
    then_nightly: bool = False
    bench_args: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        doc = dataclasses.asdict(self)
        doc["bench_args"] = list(self.bench_args)
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "Question":
        return cls(**{**doc, "bench_args": tuple(doc.get("bench_args", ()))})

    @property
    def terms(self) -> tuple[str, str]:
        """How the two kinds of version read: good/bad, or with --fixed failing/fixed."""
        return ("failing", "fixed") if self.fixed else ("good", "bad")


def term(q: Question, verdict: Verdict) -> str:
    return {Verdict.OLD: q.terms[0], Verdict.NEW: q.terms[1]}.get(verdict, str(verdict))


@dataclass
class Answer:
    """A bisection's searches (the releases, then with ``--then-nightly`` the nightly builds) and what they say."""

    question: Question
    run_id: str
    searches: list[Bisection]
    criterion_text: str
    notes: list[str] = dataclasses.field(default_factory=list)
    measured: str = ""  # a metric bisection: the metric's key ("import", "peak-rss"), for the page's figure

    @property
    def probes(self) -> list[Probe]:
        """Every version probed, once, in version order (a --then-nightly search probes its ends again)."""
        return sorted({p.version: p for s in self.searches for p in s.probes}.values(),
                      key=lambda p: Version(p.version))

    @property
    def final(self) -> Bisection:
        return self.searches[-1]

    @property
    def ok(self) -> bool:
        return self.searches[0].ending in (Ending.FOUND, Ending.AMBIGUOUS)

    def verdict_lines(self) -> list[str]:
        q, out = self.question, []
        first = self.searches[0]
        if first.ending is Ending.OLD_END_NOT_OLD:
            p = first.last_old
            assert p is not None
            return [f"{p.version} is not {q.terms[0]}: {p.evidence}"]
        if first.ending is Ending.NEW_END_NOT_NEW:
            p = first.first_new
            assert p is not None
            return [f"{p.version} is not {q.terms[1]}: {p.evidence}"]
        b = self.final
        if b.first_new is None or b.last_old is None:
            return [f"in progress: {b.probed} of {len(b.candidates)} candidates probed"]
        if b.ending is Ending.AMBIGUOUS:
            maybe = ", ".join(f"{p.version} ({p.verdict}: {p.evidence})" for p in b.unresolved)
            out.append(f"first {q.terms[1]}: {b.first_new.version} or one of the versions before it that could not "
                       f"be judged: {maybe}")
        else:
            out.append(f"first {q.terms[1]}: {b.first_new.version}: {b.first_new.evidence}")
        out.append(f"last {q.terms[0]}: {b.last_old.version}: {b.last_old.evidence}")
        for s in self.searches:
            n = len(s.candidates)
            out.append(f"{s.probed} probes for {n} candidates ({s.candidates[0]} .. {s.candidates[-1]}; at most "
                       f"⌈log2 {n}⌉ + 2 = {s.bound} without skips)")
        return out + self.notes

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA, "question": self.question.to_json(), "run_id": self.run_id,
                "criterion": self.criterion_text, "written_at": now(), "notes": self.notes,
                "searches": [{"candidates": list(s.candidates), "ending": s.ending.value,
                              "probes": [p.to_json() for p in s.probes],
                              "last_old": s.last_old.version if s.last_old else None,
                              "first_new": s.first_new.version if s.first_new else None,
                              "unresolved": [p.version for p in s.unresolved]} for s in self.searches],
                "verdict": self.verdict_lines()}


def state_path(run: RunDir) -> Path:
    return run.path / "bisection" / STATE


def check_resumable(run: RunDir, question: Question) -> None:
    """A resumed run must be a bisection, of the same question."""
    path = state_path(run)
    if not path.exists():
        raise TfmatrixError(f"bisect --resume: {run.path} holds no bisection ({path} is missing)")
    asked = Question.from_json(read_json(path)["question"])
    if asked != question:
        raise TfmatrixError(f"bisect --resume {run.run_id}: that run bisected {asked.like} {asked.good}..{asked.bad} "
                            f"({asked.criterion}); expected the same question as this one")


def latest_bisection(results: Path) -> RunDir:
    found = [p for p in run_folders(results) if (p / "bisection" / STATE).exists()]
    if not found:
        raise TfmatrixError(f"bisect --resume: no bisection under {results} to resume")
    return RunDir(results, found[-1].name)


def judged_probe(prober: Prober, criterion: Criterion, good: str) -> Callable[[str], Probe]:
    """The search's prober: run (or reuse) the probe, judge it; an undecided one once more with more samples.

    A metric's probe is judged against the good end measured again in the same nox invocation, just before
    it (a ratio of two timings taken minutes apart would carry the machine's drift in between)."""
    paired = isinstance(criterion, MetricCriterion)

    def measured(version: str, more: bool) -> tuple[Probe | None, str]:
        slots = [Slot(good, more, beside=version), Slot(version, more)] if paired and version != good \
            else [Slot(version, more)]
        recs, why = prober.records(slots)
        rec, ref = recs[-1], (recs[0] if len(recs) == 2 else None)
        if rec is None:
            return None, why
        if len(recs) == 2 and ref is None:
            return Probe(version, Verdict.SKIP, f"the good end beside it has no record: {why}"), ""
        got = criterion.judge(version, rec, ref)
        where = RunDir(prober.run.path.parent, rec.run_id)  # this run's, or an earlier bisection's it reused
        return dataclasses.replace(got, record=str(where.record_path(rec.id)), remeasured=more), ""

    def probe(version: str) -> Probe:
        got, why = measured(version, False)
        if got is None:
            return Probe(version, Verdict.SKIP, f"not probed: {why}")
        if got.verdict is Verdict.UNDECIDED:
            again, _ = measured(version, True)
            got = again or got
        return got

    return probe


def nightly_candidates(answer: Bisection, nightlies: Sequence[Version]) -> tuple[str, ...]:
    """The nightly builds of the first bad release's minor (master between the two release branches), between
    the last good and the first bad release."""
    assert answer.last_old is not None and answer.first_new is not None
    lo, hi = Version(answer.last_old.version), Version(answer.first_new.version)
    inside = [v for v in nightlies if lo < v < hi and v.release[:2] == hi.release[:2]]
    return tuple(str(v) for v in [lo, *inside, hi])


def run_bisection(question: Question, criterion: Criterion, prober: Prober, candidates: cands.Candidates,
                  nightlies: Callable[[], Sequence[Version]], save: Callable[[Answer], None],
                  say: Callable[[str], None] = print) -> Answer:
    """Search the releases; with --then-nightly and an answer, the nightly builds between; saved after each
    probe."""
    answer = Answer(question, prober.run.run_id, [], criterion.describe())
    if isinstance(criterion, MetricCriterion):
        answer.measured = criterion.metric.key
    probe = judged_probe(prober, criterion, candidates.good)

    for versions in [candidates.versions, None]:
        if versions is None:
            first = answer.searches[0]
            if not (question.then_nightly and first.ending is Ending.FOUND):
                break
            versions = nightly_candidates(first, nightlies())
            lo, hi = Version(versions[0]), Version(versions[-1])
            if lo.release[:2] == hi.release[:2]:
                answer.notes.append(f"--then-nightly: {hi} is a patch release of {lo.major}.{lo.minor}: its changes "
                                    "were picked onto the release branch, which has no nightly builds")
                break
            if len(versions) == 2:
                answer.notes.append(f"--then-nightly: the index has no tf-nightly build of {hi.major}.{hi.minor} "
                                    f"between {lo} and {hi} (PyPI keeps only recent nightlies)")
                break
            say(f"tfmatrix: bisect: into {len(versions) - 2} nightly builds between {versions[0]} and {versions[-1]}")
        current = Bisection(tuple(versions))
        answer.searches.append(current)
        bisect(versions, probe, log=lambda line: say(f"tfmatrix: bisect: {line}"), out=current,
               after=lambda _: save(answer))
        save(answer)
    b = answer.final
    if b.first_new is not None and b.last_old is not None and answer.ok:
        changed = pins_changed(b.last_old, b.first_new)
        if changed:
            answer.notes.append(f"the resolved pins of {b.last_old.version} and {b.first_new.version} differ in: "
                                f"{changed} (leads to check, not a verdict)")
            save(answer)
    return answer


def pins_changed(old: Probe, new: Probe) -> str:
    """What the resolver installed differently for the first new version than for the last old one ("": the
    records do not say)."""
    from ..report.details import pin_changes

    records = [load(Path(p.record)) if p.record and Path(p.record).is_file() else None for p in (old, new)]
    base, record = records
    if not (isinstance(base, CombinationRecord) and isinstance(record, CombinationRecord)):
        return ""
    return ", ".join(f"{c.package} {c.baseline} → {c.this}" for c in pin_changes(record, base))


def table(answer: Answer) -> str:
    """The terminal's table: every probe, in version order, then the verdict."""
    q = answer.question
    rows = answer.probes
    width = max([len(p.version) for p in rows] + [7])
    lines = [f"tfmatrix bisect {q.like}: {answer.criterion_text} (run {answer.run_id})",
             f"  {'version':<{width}}  {'verdict':<9}  evidence"]
    for p in rows:
        mark = " (re-measured)" if p.remeasured else ""
        lines.append(f"  {p.version:<{width}}  {term(q, p.verdict):<9}  {p.evidence}{mark}")
    return "\n".join(lines + [""] + [f"  {line}" for line in answer.verdict_lines()])


def save_to(run: RunDir) -> Callable[[Answer], None]:
    def save(answer: Answer) -> None:
        path = state_path(run)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(str(path), answer.to_json())
    return save

