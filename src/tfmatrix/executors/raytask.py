"""The Ray task: run one combination's nox session on the node Ray chose, return its record.

Standard library and Ray only: it is shipped to the workers by value, so a node
needs Ray and nox (``pip install 'tfmatrix[ray]'``) and the project checkout at
the same path (a shared file system, as on most clusters), not tfmatrix itself.
The session writes into a private folder; the record and its logs come back to
the driver, which writes them into the run folder.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

LOG_LIMIT = 1_000_000  # bytes kept of each log file sent back


def bench_on_node(root: str, combo_id: str, run_id: str, posargs: list[str], env_in: dict[str, str]) -> dict[str, Any]:
    import ray

    ctx = ray.get_runtime_context()
    node_id = ctx.get_node_id()
    gpu_ids = [int(g) for g in ray.get_gpu_ids()]
    node = {"node_id": node_id, "node_ip": ray.util.get_node_ip_address(), "hostname": socket.gethostname(),
            "gpu_ids": gpu_ids,
            "resources": next((n["Resources"] for n in ray.nodes() if n["NodeID"] == node_id), {})}
    noxfile = Path(root) / "noxfile.py"
    if not noxfile.exists():
        return {"record": None, "node": node, "exit_code": None, "tail": "",
                "error": f"{noxfile}: not on node {node['hostname']} ({node_id[:8]}); the project must be at "
                         "the same path on every node (a shared file system)"}
    with tempfile.TemporaryDirectory(prefix="tfmatrix-ray-") as tmp:
        env = dict(os.environ, **env_in, TFMATRIX_RUN_ID=run_id, TFMATRIX_RESULTS=tmp)
        args = [*posargs, "--placed-by", "ray"]
        if gpu_ids:  # Ray's GPU for this task; the session sets CUDA_VISIBLE_DEVICES for its processes
            env.pop("CUDA_VISIBLE_DEVICES", None)
            args += ["--gpu", str(gpu_ids[0])]
        proc = subprocess.run([sys.executable, "-m", "nox", "-f", str(noxfile), "-s", f"bench({combo_id})", "--",
                               *args], cwd=root, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        run_dir = Path(tmp) / run_id
        record_path = run_dir / f"{combo_id}.json"
        record = json.loads(record_path.read_text(encoding="utf-8")) if record_path.exists() else None
        log_root = run_dir / "logs" / combo_id
        logs = {}
        for p in sorted(log_root.rglob("*")) if log_root.exists() else []:
            if p.is_file():
                data = p.read_bytes()
                logs[str(p.relative_to(log_root))] = data[-LOG_LIMIT:].decode("utf-8", "replace")
        return {"record": record, "node": node, "exit_code": proc.returncode, "log_root": str(log_root),
                "logs": logs, "tail": (proc.stdout + proc.stderr)[-4000:], "error": ""}
