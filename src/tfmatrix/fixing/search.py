"""The search for a fix: candidates smallest first, each proven by real probes, the first that passes wins.

Each candidate (:mod:`tfmatrix.diagnosis.remedies`) is probed as a real combination: with ``--import-only``
first when the failure came at install or import (cheap, and it is where such a failure shows), then with
the combination's own phases and ``--quick``.  A candidate passes when its last probe ends ``ok``.  A probe
that fails another way is read like any failed record, and its own candidates, on top of the change it
tried, join the queue (a forced protobuf dropped, then the tensorflow-metadata a passing sibling resolved).
When the queue is empty, a library a failed probe named is searched for its newest older release that
passes; with ``--allow tensorflow``, the nearest newer TensorFlow release that passes.  Both go to the next
release first, then to the bisection's ``--fixed`` search, each verdict a --quick probe (a release that
installs and imports may still fail later).  The state is saved after every probe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from packaging.version import Version

from ..bisection.probes import Prober
from ..bisection.search import Probe, Verdict, bisect
from ..diagnosis import blame
from ..diagnosis.classify import read_log
from ..diagnosis.cures import candidates
from ..diagnosis.preflight import parse_pins
from ..diagnosis.remedies import Candidate, Index, PinChange, Sibling, culprit_name, distance, pointed
from ..errors import TfmatrixError
from ..matrix.model import Combination
from ..records.model import CombinationRecord
from ..records.status import Status
from ..records.store import RunDir, run_folders
from ..run.noxside.interrupts import Interrupted
from .plan import FixSlot
from .state import FixSearch, Tried

#: where a failure at these phases shows in an import-only probe
_AT_IMPORT = ("import", "probe")


class OutOfProbes(Exception):
    """The search used the probes it was allowed."""


def at_import(record: CombinationRecord) -> bool:
    """The failure came at install or at import: an import-only probe shows whether a change cures it."""
    if record.status == Status.INSTALL_FAILED:
        return True
    return any(p.phase in _AT_IMPORT and p.failure is not None for p in record.phases)


def facts_of(record: CombinationRecord) -> blame.Facts:
    return blame.Facts.of(record.combination, record.install, record.resolved_pins, record.preflight)


def installer_words(run: RunDir, record: CombinationRecord) -> str:
    """What the installer said (the record keeps its tail; its log keeps the "X depends on Y" lines)."""
    log = run.log_dir(record.id) / "install.log"
    return "\n".join([record.install.error if record.install else "", read_log(log) if log.exists() else "",
                      record.failure.evidence if record.failure else "", record.failure.blame if record.failure else ""])


def siblings(results: Path, record: CombinationRecord, limit: int = 30) -> list[Sibling]:
    """Combinations of the same TensorFlow release, Python and stack kind that passed, newest run first."""
    out: list[Sibling] = []
    info = record.combination
    for folder in reversed(run_folders(results)[-limit:]):
        for path in sorted(folder.glob("*.json")):
            if path.name == "run.json" or path.stem == info.id:
                continue
            try:
                rec = RunDir(results, folder.name).existing_record(path.stem)
            except TfmatrixError:  # a record this search cannot read is no sibling; the report says what is wrong
                continue
            c = rec.combination if rec is not None else None
            if rec is None or c is None or rec.status != Status.OK or (c.tensorflow, c.python, c.stack_kind) != (
                    info.tensorflow, info.python, info.stack_kind):
                continue
            out.append(Sibling(f"{rec.id} (ok in run {rec.run_id})", parse_pins(rec.resolved_pins)))
    return out


@dataclass
class Searcher:
    """One fix search: the failed record, how to probe, what may change; :meth:`run` fills ``search``."""

    search: FixSearch
    record: CombinationRecord
    template: Combination
    probers: Callable[[bool], Prober]  # import_only -> the prober of that stage
    save: Callable[[FixSearch], object]
    index: Index | None = None
    python_available: Callable[[str], bool] = lambda py: True
    siblings: Sequence[Sibling] = ()
    words: str = ""
    tensorflow_releases: Callable[[], Sequence[Version]] = lambda: ()
    garden_of: Callable[[str], str | None] = lambda version: None
    say: Callable[[str], None] = print
    driver: str | None = None  # this host's NVIDIA driver (the GPU side's release candidate)
    cuda_pip_stacks: Sequence[str] = ()  # the matrix's cuda-pip stacks (the GPU side's stack candidate)
    queue: list[Candidate] = field(default_factory=list)
    installed: list[dict[str, str]] = field(default_factory=list)  # the pins each probe installed
    older: list[tuple[Candidate, CombinationRecord]] = field(default_factory=list)  # failed probes, in order
    import_first: dict[frozenset[tuple[str, str]], bool] = field(default_factory=dict)  # per follow-up candidate

    def _installed(self, cand: Candidate, record: CombinationRecord | None) -> None:
        """What a probe really installed: a later candidate those pins already satisfy (the newest in a range the
        resolver already picked from) would probe the same environment again."""
        if record is not None and record.resolved_pins:
            self.installed.append(parse_pins(record.resolved_pins))

    def _covered(self, cand: Candidate) -> bool:
        changes = [c for c in cand.changes if c.package not in ("python", "tensorflow", "stack")]
        if not changes or len(changes) != len(cand.changes):
            return False
        return any(all(c.package in pins and (not c.after or _satisfies(pins[c.package], c.after)) for c in changes)
                   for pins in self.installed)

    def first(self) -> list[Candidate]:
        """The record's own candidates, smallest first (the allowed kinds)."""
        assert self.record.failure is not None
        return candidates(self.record.failure, facts_of(self.record), index=self.index, installer_words=self.words,
                          allow=self.search.allow, python_available=self.python_available, siblings=self.siblings,
                          driver=self.driver, cuda_pip_stacks=self.cuda_pip_stacks)

    def _add(self, found: Sequence[Candidate]) -> None:
        seen = {c.key for c in self.queue} | {t.candidate.key for t in self.search.tried}
        self.queue += [c for c in found if c.key not in seen]
        self.queue.sort(key=lambda c: c.order)

    def _probe(self, number: int, cand: Candidate, import_first: bool) -> Tried:
        """The candidate's probes, in order; the last one says how it ended."""
        last: Tried | None = None
        for import_only in ([True] if import_first else []) + [False]:
            if self.search.probes >= self.search.max_probes:
                raise OutOfProbes()
            prober = self.probers(import_only)
            recs, why = prober.records([FixSlot(number, cand, import_only)])
            rec = recs[0]
            stage = "import-only" if import_only else "quick"
            if rec is None:
                last = Tried(number, cand, stage, prober.run.run_id, FixSlot(number, cand, import_only).id,
                             "not-run", why)
            else:
                last = Tried(number, cand, stage, rec.run_id, rec.id, str(rec.status),
                             rec.reason or "", str(prober.run.record_path(rec.id)))
                self._installed(cand, rec)
            self.search.tried.append(last)
            self.save(self.search)
            self.say(f"tfmatrix: fix: #{number} {stage}: {last.status}{': ' + last.evidence if last.evidence else ''}")
            if not last.passed:
                break
        assert last is not None
        return last

    def _follow(self, cand: Candidate, tried: Tried) -> None:
        """A probe that failed another way: its own candidates, on top of the change it tried."""
        from ..records.store import load

        if not tried.record or not Path(tried.record).is_file():
            return
        rec = load(Path(tried.record))
        if not isinstance(rec, CombinationRecord):
            return
        self._installed(cand, rec)
        if rec.failure is None:
            return
        self.older.append((cand, rec))
        at = at_import(rec)  # a later failure than the record's: no import-only probe for what cures it
        run = RunDir(Path(tried.record).parent.parent, rec.run_id)
        more = candidates(rec.failure, facts_of(rec), index=self.index, installer_words=installer_words(run, rec),
                          allow=self.search.allow, python_available=self.python_available, siblings=self.siblings,
                          driver=self.driver, cuda_pip_stacks=self.cuda_pip_stacks)
        follow = [cand.then(m) for m in more]
        self.import_first.update({c.key: at for c in follow})
        self._add(follow)

    def run(self) -> FixSearch:
        s = self.search
        import_first = at_import(self.record)
        self._add(self.first())
        for t in s.tried:  # --resume: what the probes so far taught
            if not t.passed:
                self._follow(t.candidate, t)
        numbers = {t.number for t in s.tried}
        try:
            while self.queue and s.ending == "searching":
                cand = self.queue.pop(0)
                if self._covered(cand):
                    continue  # a probe already installed pins that satisfy it
                done = [t for t in s.tried if t.candidate.key == cand.key]
                if done and (not done[-1].passed or done[-1].stage == "quick"):
                    tried = done[-1]
                else:
                    number = max(numbers, default=0) + 1
                    numbers.add(number)
                    tried = self._probe(number, cand, self.import_first.get(cand.key, import_first))
                if tried.passed and tried.stage == "quick":
                    self._found(cand, tried)
                    break
                self._follow(cand, tried)
            for base, failed in sorted(self.older, key=lambda o: o[0].order):  # the smallest change first
                if s.ending == "searching":
                    self._older_release(base, failed)
            if s.ending == "searching" and "tensorflow" in s.allow:
                self._tensorflow()
        except OutOfProbes:
            s.notes.append(f"stopped after {s.probes} probes (--max-probes {s.max_probes})")
        except Interrupted:
            s.ending = "interrupted"
            self.save(s)
            raise
        if s.ending == "searching":
            s.ending = "not-found" if s.tried else "no-candidate"
            if s.tried and not s.notes:
                s.notes.append(f"tried every candidate the facts give ({len({t.number for t in s.tried})}); "
                               "none passed")
        self.save(s)
        return s

    def _found(self, cand: Candidate, tried: Tried) -> None:
        s = self.search
        s.ending, s.fix = "fixed", cand
        s.proof = [t.record for t in s.tried if t.number == tried.number and t.record]
        self.save(s)

    def _tensorflow(self) -> None:
        """Kind 5: the nearest newer TensorFlow release that passes, found with the bisection's --fixed search."""
        info = self.record.combination
        here = Version(info.tensorflow)
        newer = per_minor(self.tensorflow_releases(), here, newer=True)
        if info.models_official:  # a Model Garden entry: only releases the Model Garden has a release of
            newer = [v for v in newer if self.garden_of(str(v))]
        versions = [str(here)] + [str(v) for v in newer]
        if len(versions) < 2:
            self.search.notes.append(f"--allow tensorflow: the index has no TensorFlow release newer than {here} "
                                     f"for Python {info.python}" + (" with a tf-models-official of its minor"
                                                                    if info.models_official else ""))
            return

        def candidate(version: str) -> Candidate:
            changes = [PinChange("tensorflow", info.tensorflow, version)]
            garden = self.garden_of(version) if info.models_official else None
            if info.models_official and garden:
                changes.append(PinChange("tf-models-official", info.models_official, f"=={garden}"))
            return Candidate("tensorflow", tuple(changes), "the nearest newer TensorFlow release that passes",
                             float(len(changes)))

        found = self._nearest_passing("--allow tensorflow", versions, candidate, f"the record: {self.record.reason}")
        if not found:
            self.search.notes.append(f"--allow tensorflow: no newer release up to {versions[-1]} passes")

    def _older_release(self, base: Candidate, record: CombinationRecord) -> None:
        """A probe failed in a package the failure names (not the one it changed): the newest older release of
        that package that passes (its releases, one per minor, from the index), on top of the probe's change."""
        assert record.failure is not None
        facts = facts_of(record)
        changed = {c.package for c in base.changes} | {"tensorflow", "tf-models-official"}
        named = [p for p in pointed(record.failure, facts) if p not in changed]
        if not named or self.index is None:
            return
        culprit = culprit_name(record.failure.culprit)
        package = ([p for p in named if p != culprit] or named)[0]  # the library, over the runtime it needs
        here = Version(facts.pins[package])
        versions = [str(here)] + [str(v) for v in per_minor(self.index(package, facts.python), here, newer=False)][:8]
        if len(versions) < 2:
            return

        def candidate(version: str) -> Candidate:
            older = Candidate("older-release", (PinChange(package, str(here), f"=={version}"),),
                              f"the newest {package} before {here} that passes", distance(str(here), version))
            return base.then(older)

        if not self._nearest_passing(f"older {package}", versions, candidate, f"probe: {record.reason}"):
            self.search.notes.append(f"no {package} from {versions[1]} down to {versions[-1]} passes")

    def _nearest_passing(self, label: str, versions: Sequence[str], candidate: Callable[[str], Candidate],
                         known: str) -> bool:
        """The version nearest ``versions[0]`` (known to fail) that passes: the next one first, then the
        bisection's --fixed search from there to the far end.  Each verdict is a --quick probe: the release
        must pass as a whole (one that installs and imports may still fail later).  True when found (and
        recorded as the fix)."""
        numbers = {t.number for t in self.search.tried}
        seen: dict[str, Probe] = {versions[0]: Probe(versions[0], Verdict.OLD, known)}

        def probe(version: str) -> Probe:
            if version not in seen:
                number = max(numbers, default=0) + 1
                numbers.add(number)
                tried = self._probe(number, candidate(version), False)
                verdict = Verdict.NEW if tried.passed else Verdict.OLD
                seen[version] = Probe(version, verdict, f"{tried.status}: {tried.evidence}"[:200], record=tried.record)
            return seen[version]

        self.say(f"tfmatrix: fix: {label}: the nearest of {len(versions) - 1} releases that passes "
                 f"({', '.join(versions[1:])}): the next one first, then a --fixed bisection to the far end")
        first: Probe | None = probe(versions[1])
        if first is not None and first.verdict is not Verdict.NEW and len(versions) > 2:
            first = bisect(versions[1:], probe, log=lambda line: self.say(f"tfmatrix: fix: {label}: " + line.replace(
                ": old (", ": still failing (", 1).replace(": new (", ": passes (", 1))).first_new
        if first is None or first.verdict is not Verdict.NEW:
            return False
        tried = next(t for t in reversed(self.search.tried) if t.record == first.record)
        self._found(tried.candidate, tried)
        return True


def _satisfies(version: str, spec: str) -> bool:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        return SpecifierSet(spec).contains(version, prereleases=True)
    except InvalidSpecifier:
        return False


def per_minor(releases: Sequence[Version], here: Version, *, newer: bool) -> list[Version]:
    """The newest release of each other minor, newer (oldest first) or older (newest first) than ``here``."""
    best: dict[tuple[int, int], Version] = {}
    for v in releases:
        if v.is_prerelease or (v.major, v.minor) == (here.major, here.minor) or (v > here) != newer:
            continue
        best[(v.major, v.minor)] = max(v, best.get((v.major, v.minor), v))
    return sorted(best.values(), reverse=not newer)
