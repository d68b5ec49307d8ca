"""Predict: whether each combination installs on platforms tfmatrix does not run on (``nox -s predict``)."""
