"""Metric backends: alignment, LPAPS, FAD, Audiobox Aesthetics and MIR axes, behind one interface."""

from tada.errors import MissingPackageError
from tada.metrics.base import Clip, Metric, MetricReport, compute_metrics
from tada.metrics.cache import ClipCache
from tada.metrics.registry import load_scorer, scorer_name

__all__ = [
    "Clip",
    "ClipCache",
    "Metric",
    "MetricReport",
    "MissingPackageError",
    "compute_metrics",
    "load_scorer",
    "scorer_name",
]
