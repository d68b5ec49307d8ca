"""Turn ``nox -l --json`` into a GitHub Actions job matrix: one job per bench session.

    python -m nox -l --json -s bench > sessions.json
    python tools/ci_matrix.py sessions.json >> "$GITHUB_OUTPUT"     # jobs=[...]

A GPU combination (tag ``gpu``) runs on a self-hosted runner labelled ``gpu``,
and on one labelled ``gpu-<type>`` too when the matrix names its GPU type
(``hardware: {gpu_type: H100}`` gives the tag ``gpu-h100``); a CPU combination
runs on ``ubuntu-latest``.  Standard library only.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

CPU_RUNNER = "ubuntu-latest"
GPU_LABELS = ["self-hosted", "linux", "gpu"]


def jobs(sessions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for s in sessions:
        if s.get("name") != "bench":
            continue
        tags = s.get("tags") or []
        runner: Any = CPU_RUNNER
        if "gpu" in tags:
            runner = GPU_LABELS + [t for t in tags if t.startswith("gpu-")]
        out.append({"session": s["session"], "python": s.get("python"), "runs-on": runner,
                    "slug": re.sub(r"[^A-Za-z0-9._-]+", "-", s["session"]).strip("-")})
    return out


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") if len(argv) > 1 else sys.stdin as f:
        sessions = json.load(f)
    print(f"jobs={json.dumps(jobs(sessions), separators=(',', ':'))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
