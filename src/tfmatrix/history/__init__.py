"""History: runs against runs.  :mod:`.compare` (two runs, threshold and significance),
:mod:`.changepoints` (asv's step detection over every run), :mod:`.publish` (asv's results
format and site), :mod:`.merge` (runs from several machines into one), :mod:`.scale` (the
reporting side timed over 10,000 records)."""
