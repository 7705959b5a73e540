"""Paired-difference statistics of the results tables: mean, standard error, t and p."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

__all__ = ["PairedTest", "paired_test", "student_t_two_sided_p"]


def _incomplete_beta_fraction(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularised incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 500):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < eps:
            break
    return result


def _regularised_incomplete_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _incomplete_beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _incomplete_beta_fraction(b, a, 1.0 - x) / b


def student_t_two_sided_p(t: float, dof: int) -> float:
    """P(|T| >= |t|) for Student's t with ``dof`` degrees of freedom."""
    if dof < 1:
        raise ValueError(f"a t test needs at least 1 degree of freedom, got {dof}")
    if math.isinf(t):
        return 0.0
    return _regularised_incomplete_beta(dof / 2.0, 0.5, dof / (dof + t * t))


@dataclass(frozen=True)
class PairedTest:
    """Mean of paired differences, its standard error, t and two-sided p (None below 2 pairs
    or with zero spread)."""

    n: int
    mean: float
    stderr: float | None
    t: float | None
    p: float | None


def paired_test(differences: list[float]) -> PairedTest:
    """One-sample t test of the paired differences against 0."""
    n = len(differences)
    if n == 0:
        raise ValueError("no paired differences")
    mean = statistics.fmean(differences)
    if n < 2:
        return PairedTest(n, mean, None, None, None)
    stderr = statistics.stdev(differences) / math.sqrt(n)
    if stderr == 0.0:
        return PairedTest(n, mean, 0.0, None, None)
    t = mean / stderr
    return PairedTest(n, mean, stderr, t, student_t_two_sided_p(t, n - 1))
