"""Scheduling: the stages of one combination (the pipeline), and the order of the interleaved rounds of several."""
