#!/usr/bin/env bash
# The GPU check for a lent GPU machine (no network, no TensorFlow; nvidia-ml-py and PyTorch or JAX).
# Checks tfmatrix's NVML reader, telemetry sampler, loaded-library reader and fingerprint on a real GPU.
# Exit status: 0 all passed, 1 a check failed, 3 no NVIDIA GPU here.  Details: tools/gpu_check.py.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 tools/gpu_check.py "$@"
