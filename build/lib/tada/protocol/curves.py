"""Per-direction protocol scores of one steering curve: AUC, smoothness (CSM) and quality.

A curve is one (method, concept) sweep: arrays ``alpha``, ``preservation`` (LPAPS or a MIR
distance, 0 at alpha=0) and scores, one entry per alpha. A direction is ``+1`` (alpha >= 0,
adding the concept) or ``-1`` (alpha <= 0, removing it); both include the alpha=0 baseline.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

DIRECTIONS: tuple[int, int] = (1, -1)
#: tolerance of the cut-off test, so a curve whose maximum *is* the cut-off keeps that point
TOLERANCE = 1e-9
#: number of evenly spaced preservation values in [0, c_d] where quality is read
QUALITY_POINTS = 15


def _side(alpha: np.ndarray, sign: int, *columns: np.ndarray) -> list[np.ndarray]:
    """``alpha`` and ``columns`` restricted to one direction, ordered by increasing ``|alpha|``."""
    alpha = np.asarray(alpha, dtype=float)
    keep = np.flatnonzero(sign * alpha >= 0)
    keep = keep[np.argsort(np.abs(alpha[keep]), kind="stable")]
    return [alpha[keep]] + [np.asarray(c, dtype=float)[keep] for c in columns]


def delta(alpha: np.ndarray, score: np.ndarray, sign: int) -> np.ndarray:
    """Sign-corrected alignment gain ``sign * (s(alpha) - s(0))``, so higher is better both ways.

    ``s(0)`` is the score at the smallest ``|alpha|`` given (the alpha=0 baseline).
    """
    alpha, score = np.asarray(alpha, dtype=float), np.asarray(score, dtype=float)
    return sign * (score - score[np.argmin(np.abs(alpha))])


def max_preservation(alpha: np.ndarray, preservation: np.ndarray, sign: int) -> float:
    """The largest preservation distance a curve reaches in direction ``sign``."""
    _, pres = _side(alpha, sign, preservation)
    return float(pres.max()) if len(pres) else float("nan")


def cutoff(curves: Iterable[tuple[np.ndarray, np.ndarray]], sign: int) -> float:
    """``c_d``: the smallest of the curves' maximum preservation in direction ``sign``.

    ``curves`` are ``(alpha, preservation)`` pairs, in the protocol those of PCI (all) and
    PCI (localized): a full prompt swap bounds how far any method may move the audio.
    """
    maxima = [m for a, p in curves if not np.isnan(m := max_preservation(a, p, sign))]
    return min(maxima) if maxima else float("nan")


def truncated_curve(
    alpha: np.ndarray, preservation: np.ndarray, score: np.ndarray, sign: int, cut: float, boundary: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The points of one direction with preservation <= ``cut``, ordered by ``|alpha|``.

    With ``boundary``, one point at exactly ``cut`` is added when some point lies beyond it: its
    score is linearly interpolated (in preservation) between the farthest point inside the cut-off
    and the nearest point beyond it, and it takes the ``|alpha|`` of that nearest point beyond.
    Returns ``(abs_alpha, preservation, score)``.
    """
    a, p, s = _side(alpha, sign, preservation, score)
    inside = p <= cut + TOLERANCE
    a_in, p_in, s_in = np.abs(a[inside]), p[inside], s[inside]
    if boundary and inside.any() and not inside.all():
        i = np.argmax(p_in)  # farthest point inside
        out = np.flatnonzero(~inside)
        j = out[np.argmin(p[out])]  # nearest point beyond
        if p[j] - p_in[i] > 1e-12:
            frac = (cut - p_in[i]) / (p[j] - p_in[i])
            a_in = np.append(a_in, abs(a[j]))
            p_in = np.append(p_in, cut)
            s_in = np.append(s_in, s_in[i] + frac * (s[j] - s_in[i]))
            order = np.argsort(a_in, kind="stable")
            a_in, p_in, s_in = a_in[order], p_in[order], s_in[order]
    return a_in, p_in, s_in


def auc(alpha: np.ndarray, preservation: np.ndarray, score: np.ndarray, sign: int, cut: float) -> float:
    """``AUC_d``: trapezoid integral of the alignment gain over preservation, up to ``cut``.

    The points are traversed in sweep order (increasing ``|alpha|``), so where preservation
    backtracks the backward segment subtracts area; a gain below the baseline counts negatively.
    NaN with fewer than two points.
    """
    a, p, s = truncated_curve(alpha, preservation, score, sign, cut, boundary=True)
    if len(p) < 2:
        return float("nan")
    return float(np.trapezoid(delta(a, s, sign), p))


def csm(alpha: np.ndarray, preservation: np.ndarray, score: np.ndarray, sign: int, cut: float) -> float:
    """``CSM_d`` (lower is smoother): std (ddof=0) of the steps of the normalised gain curve.

    The curve is truncated at ``cut`` (no boundary point), the gain divided by its largest
    positive value and ordered by ``|alpha|``; negative steps count. NaN when the gain is never
    positive or there is no step.
    """
    a, _, s = truncated_curve(alpha, preservation, score, sign, cut, boundary=False)
    gain = delta(a, s, sign) if len(a) else np.empty(0)
    peak = float(np.clip(gain, 0, None).max()) if len(gain) else 0.0
    if peak <= TOLERANCE or len(gain) < 2:
        return float("nan")
    return float(np.std(np.diff(gain / peak)))


def quality(
    alpha: np.ndarray,
    preservation: np.ndarray,
    values: np.ndarray,
    sign: int,
    cut: float,
    n_points: int = QUALITY_POINTS,
) -> float:
    """Mean of ``values`` (an aesthetic score) read at ``n_points`` preservation values in ``[0, cut]``.

    All points of the direction are used (no truncation), sorted by preservation and linearly
    interpolated; grid values outside the curve's preservation range are skipped. NaN when none
    is inside.
    """
    _, p, v = _side(alpha, sign, preservation, values)
    order = np.argsort(p, kind="stable")
    p, v = p[order], v[order]
    grid = np.linspace(0.0, cut, n_points)
    grid = grid[(grid >= p[0] - TOLERANCE) & (grid <= p[-1] + TOLERANCE)] if len(p) else grid[:0]
    return float(np.interp(grid, p, v).mean()) if len(grid) else float("nan")


def nanmean(values: Sequence[float]) -> float:
    """Mean of the defined values; NaN when none is defined."""
    kept = [v for v in values if not np.isnan(v)]
    return float(np.mean(kept)) if kept else float("nan")
