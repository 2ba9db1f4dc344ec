"""Tracking evaluation: PBHC's metrics as pure functions, and their plots."""

from __future__ import annotations

from humimic.eval.metrics import UNITS, MetricsInputError, compute_metrics
from humimic.eval.plots import compare_runs_plot, plot_errors

__all__ = ["UNITS", "MetricsInputError", "compare_runs_plot", "compute_metrics", "plot_errors"]
