"""run.ahead: installs several at a time before anything is timed; a plain run's first session starts them.

The launcher is a FAKE (what each ``nox --stage install`` child would do, with timestamps); the pool's use of
the same stage is in test_pool, the real child nox in test_integration_sources.
"""

from __future__ import annotations

import threading
import time

from tfmatrix.run.provisioning.ahead import Ahead, install_all


class Children:
    """FAKE launcher: each install sleeps a little, records when it ran, and leaves its outcome file."""

    def __init__(self, folder, seconds: float = 0.05, fails: frozenset[str] = frozenset()) -> None:
        self.folder, self.seconds, self.fails = folder, seconds, fails
        self.spans: list[tuple[str, float, float]] = []
        self.lock = threading.Lock()
        self.stopped = False

    def outcome(self, cid: str):
        return self.folder / f"{cid}.json"

    def __call__(self, combo, stage, gpu):
        t0 = time.monotonic()
        time.sleep(self.seconds)
        if combo.id not in self.fails:
            self.outcome(combo.id).write_text("{}")
        with self.lock:
            self.spans.append((combo.id, t0, time.monotonic()))
        return 1 if combo.id in self.fails else 0

    def stop(self):
        self.stopped = True


def test_install_all_runs_jobs_at_a_time_and_gives_every_exit_status(run_with, tmp_path):
    combos, _ = run_with()
    kids = Children(tmp_path, fails=frozenset({combos[1].id}))
    said: list[str] = []
    codes = install_all([(c, None) for c in combos], kids, said.append, jobs=3)
    assert codes == {c.id: (1 if c is combos[1] else 0) for c in combos}
    at_once = max(sum(b[1] <= a[1] < b[2] for b in kids.spans) for a in kids.spans)
    assert 1 < at_once <= 3 and said[0].startswith(f"tfmatrix: installing {len(combos)} combination(s) ahead, 3 at")


def test_a_set_stop_starts_no_new_install(run_with, tmp_path):
    combos, _ = run_with()
    stopping = threading.Event()
    stopping.set()
    assert install_all([(c, None) for c in combos], Children(tmp_path), lambda s: None, stopping=stopping) == {}


def test_ahead_installs_in_the_background_and_the_later_session_reads_only_a_good_one(run_with, tmp_path):
    combos, _ = run_with()
    kids = Children(tmp_path, seconds=0.2, fails=frozenset({combos[0].id}))
    ahead = Ahead(list(combos[:2]), kids, kids.outcome, jobs=2).start(lambda s: None)
    assert ahead.thread.is_alive()  # the first session goes on installing its own venv meanwhile
    said: list[str] = []
    ahead.wait(said.append)
    assert said == ["tfmatrix: waiting for the installs ahead to end before timing anything"]
    assert ahead.tried(combos[0].id) and not ahead.installed(combos[0].id)  # failed: its record says why
    assert ahead.installed(combos[1].id) and not ahead.tried(combos[2].id)
    kids.outcome(combos[1].id).unlink()
    assert not ahead.installed(combos[1].id)  # read once: gone, so the session installs itself
    ahead.stop()
    assert kids.stopped and ahead.stopping.is_set()
