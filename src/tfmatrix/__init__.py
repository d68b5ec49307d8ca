"""tfmatrix: TensorFlow Object Detection across version combinations."""

from __future__ import annotations

__version__ = "0.1.0"

#: Version of the JSON records written under results/ (see schemas/).
RECORD_SCHEMA_VERSION = 8

#: Version of the matrix.yaml format this release reads.
MATRIX_SCHEMA_VERSION = 1
