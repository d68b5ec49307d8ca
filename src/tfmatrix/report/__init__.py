"""Presentations of runs: the terminal table (:mod:`.summary`, standard library only) and the HTML report.

The report's layers are kept apart as in coverage.py's ``html.py``: :mod:`.data`
reads typed records into DataFrames, :mod:`.view`, :mod:`.details` and
:mod:`.compare_page` turn them into plain dataclasses (no HTML), :mod:`.plots`
draws the matplotlib figures, and :mod:`.render` fills the autoescaped
templates and writes the files.
"""
