"""The worker side: what runs inside a combination's venv.

Standard library and TensorFlow only (a test enforces it): :mod:`.contract`
(what the manager sends and gets back), :mod:`.main` (``python -m
tfmatrix.worker``: one benchmark per process), :mod:`.workload` (Model Garden
models, synthetic images, digests), :mod:`.probe` (``collect_*`` facts) and
:mod:`.telemetry` (the NVML sampler).
"""
