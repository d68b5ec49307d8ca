"""Diagnosis: why a combination ends the way it does.

:mod:`.compat` holds what each TensorFlow release was built against (data),
:mod:`.rules` the compatibility rules over it (one home), :mod:`.preflight`
predicts a combination's end before it runs, :mod:`.doctor` diagnoses a live
environment (read by :mod:`.environment`), and :mod:`.classify` names a failure
from what it printed (``data/taxonomy.yaml``).
"""
