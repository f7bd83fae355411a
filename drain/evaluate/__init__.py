"""Evaluation: the homeowner benchmark, metrics, baselines and reports (``drain eval``)."""
