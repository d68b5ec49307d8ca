"""Execution: one step run in a worker process into a combination's record, and the facts of the host it runs on."""
