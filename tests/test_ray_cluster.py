"""``--executor ray`` on a real two-node Ray cluster, started here on loopback.

The head node declares one (CPU-only machine: declared, not real) GPU of type H100,
the second node one of type A100 (``ray start --num-gpus 1 --resources
'{"accelerator_type:...": 1}'``).  A small matrix asks for an H100, an A100, a V100
(which no node has) and a CPU; each combination must run on the node whose
resources it asked for, or be recorded ``skipped: no matching hardware``, and every
record must come back to the driver's run folder.  The cluster is stopped at the end,
and no Ray process of it is left.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from matrices import TINY_MATRIX, python_version

from tfmatrix.records.status import Status
from tfmatrix.records.store import load_run, run_folders

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.integration, pytest.mark.network]  # real nox, uv and TensorFlow from PyPI
ray = pytest.importorskip("ray", reason="the Ray executor's test needs the tfmatrix[ray] extra (in the test extra)")

def small_matrix() -> str:
    """test_integration's tiny matrix, TF 2.20 only, on a CPU stack and three GPU types."""
    data = yaml.safe_load(TINY_MATRIX.format(python=python_version()))
    data["tensorflow"] = [data["tensorflow"][0]]
    data["stacks"] = [{"id": "cpu", "kind": "cpu"}] + [
        {"id": t.lower(), "kind": "cuda-pip", "hardware": {"gpu_type": t}} for t in ("H100", "A100", "V100")]
    data["workload"]["batch_sizes"] = [1]
    del data["profiles"]
    return yaml.safe_dump(data)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_cli() -> str:
    return str(Path(sys.executable).parent / "ray")


@pytest.fixture
def cluster():
    port = free_port()
    temp = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    common = ["--num-cpus", "1", "--num-gpus", "1", "--block", "--disable-usage-stats",
              "--node-ip-address", "127.0.0.1", "--object-store-memory", str(100 * 2 ** 20)]  # small /dev/shm is fine
    head = subprocess.Popen([ray_cli(), "start", "--head", "--port", str(port), "--temp-dir", temp,
                             "--include-dashboard=false", "--resources", '{"accelerator_type:H100": 1}', *common],
                            env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs = [head]
    address = f"127.0.0.1:{port}"
    try:
        wait_for_nodes(address, 1, head)
        procs.append(subprocess.Popen([ray_cli(), "start", "--address", address, "--resources",
                                       '{"accelerator_type:A100": 1}', *common], env=env, start_new_session=True,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        nodes = wait_for_nodes(address, 2, procs[1])
        yield address, nodes
    finally:
        for p in reversed(procs):  # `ray start --block` stops its node's processes on SIGTERM
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        left = leftover(temp)
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        assert not left, f"Ray processes of the test cluster left running: {left}"


def leftover(temp: str, wait: float = 30.0) -> list[int]:
    deadline = time.monotonic() + wait
    while True:
        found = []
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
                except OSError:
                    continue
                if temp in cmd:
                    found.append(int(pid))
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def wait_for_nodes(address: str, count: int, proc: subprocess.Popen, timeout: float = 120) -> dict[str, dict]:
    code = ("import json, ray; ray.init(address=%r, logging_level='ERROR'); "
            "print(json.dumps({n['NodeID']: n['Resources'] for n in ray.nodes() if n['Alive']}))") % address
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "ray start exited"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if out.returncode == 0:
            nodes = json.loads(out.stdout.strip().splitlines()[-1])
            if len(nodes) >= count:
                return nodes
        time.sleep(1)
    raise AssertionError(f"the Ray cluster at {address} did not reach {count} nodes")


def test_each_combination_runs_on_the_node_it_asked_for_and_every_record_comes_back(cluster, tmp_path, gpu_less_host):
    address, nodes = cluster
    by_type = {t: nid for nid, res in nodes.items() for t in ("H100", "A100") if f"accelerator_type:{t}" in res}
    assert set(by_type) == {"H100", "A100"} and by_type["H100"] != by_type["A100"]
    matrix = tmp_path / "ray.yaml"
    matrix.write_text(small_matrix())
    env = dict(os.environ, TFMATRIX_MATRIX=str(matrix), TFMATRIX_RESULTS=str(tmp_path / "results"),
               TFMATRIX_REPORTS=str(tmp_path / "reports"), TFMATRIX_CACHE=str(tmp_path / "cache"),
               RAY_USAGE_STATS_ENABLED="0")
    for k in ("TFMATRIX_RUN_ID", "TFMATRIX_PROFILE", "TFMATRIX_ASSUME_GPU"):
        env.pop(k, None)
    proc = subprocess.run([sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), "-s", "bench", "--",
                           "--executor", "ray", "--address", address, "--quick"],
                          capture_output=True, text=True, env=env, timeout=1800, cwd=ROOT)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    (run,) = run_folders(tmp_path / "results")
    loaded = load_run(run)
    assert loaded.warnings == []
    got = loaded.by_id()
    assert set(got) == {"tf2.20-cpu", "tf2.20-h100", "tf2.20-a100", "tf2.20-v100"}  # every record came back
    for cid, gpu_type in (("tf2.20-h100", "H100"), ("tf2.20-a100", "A100")):
        node = got[cid].placement.node
        assert got[cid].placement.executor == "ray"
        assert node["node_id"] == by_type[gpu_type] and f"accelerator_type:{gpu_type}" in node["resources"], cid
        assert node["gpu_ids"] == [0] and got[cid].placement.gpu_index == 0
        # the node has no real GPU: its session says so and times nothing on the CPU
        assert got[cid].status == Status.SKIPPED and "no NVIDIA GPU visible" in got[cid].reason
    v100 = got["tf2.20-v100"]
    assert v100.status == Status.SKIPPED and v100.placement.node is None
    assert v100.reason == (f"no matching hardware: no node of the Ray cluster at {address} has "
                           "1 GPU + accelerator_type:V100")
    cpu = got["tf2.20-cpu"]
    assert cpu.status == Status.OK and cpu.placement.node["node_id"] in nodes
    assert cpu.host["platform"]["node"] == socket.gethostname()  # each record keeps the host that ran it
    for phase in cpu.phases:  # the logs came back too, and the record points at them
        if phase.log:
            assert phase.log.startswith(str(run / "logs" / "tf2.20-cpu")) and Path(phase.log).exists()
    assert "submitted to Ray (1 GPU + accelerator_type:H100)" in out
