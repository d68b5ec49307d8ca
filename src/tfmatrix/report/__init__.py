"""The HTML report: results -> pandas frames -> view model -> jinja2 templates.

The layers are kept apart as in coverage.py's ``html.py``: :mod:`.data` reads
records into DataFrames, :mod:`.view` turns them into plain dataclasses (no
HTML), :mod:`.plots` draws the matplotlib figures, and :mod:`.render` fills
the autoescaped templates and writes the files.
"""
