"""Scale-out on engines that exist: a local pool over several GPUs, and Ray.

tfmatrix does not schedule: with ``--gpus`` or ``--executor ray`` the
``bench(<combination>)`` sessions of a nox invocation only queue their
combination (:mod:`.dispatch`), and the ``dispatch`` session they notify hands
the queue to an executor.  Each executor runs every combination as that
combination's own nox session (``nox -s "bench(<id>)"``), in a child process
on this machine (:mod:`.pool`) or in a Ray task on the node Ray placed it on
(:mod:`.ray`), and the records land in the one run folder.
"""
