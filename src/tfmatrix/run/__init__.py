"""The run side: what happens in nox's process (never TensorFlow).

:mod:`.options` and :mod:`.context` (read once per session), :mod:`.pipeline`
(one combination in four stages), :mod:`.install`, :mod:`.runner` (one worker
process per phase) and :mod:`.phases` (around it), :mod:`.host` (GPUs, driver,
fingerprint), :mod:`.placement`, :mod:`.locks`, :mod:`.interrupts`, :mod:`.cache`,
:mod:`.exits`.
"""
