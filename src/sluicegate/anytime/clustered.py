"""A mean over requests whose variance is clustered by the unit that made them.

Requests of one session (or key) are not independent: a user who likes an answer
likes the next one too. Treating them as independent understates the variance
and overstates every difference. The mean is the ratio of sums over units,
``sum(y_k) / sum(n_k)``, and its variance the cluster-robust (delta-method)
estimate ``K / (K - 1) * sum((y_k - mean * n_k)**2) / (sum(n_k))**2`` over the K
units (Liang and Zeger 1986; the form experimentation platforms use for ratio
metrics), kept as running sums so that adding a request and reading the variance cost O(1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class _Unit:
    n: int = 0
    total: float = 0.0


@dataclass
class ClusteredMean:
    _units: dict[str, _Unit] = field(default_factory=dict)
    n: int = 0
    total: float = 0.0
    # Over units: sum of y_k**2, of y_k * n_k and of n_k**2, for the variance in O(1).
    _yy: float = 0.0
    _yn: float = 0.0
    _nn: float = 0.0

    def add(self, unit: str, value: float) -> None:
        """One request of ``unit`` with ``value`` (a boolean as 0 or 1)."""
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number")
        kept = self._units.get(unit)
        if kept is None:
            kept = self._units[unit] = _Unit()
        y, n = kept.total, kept.n
        self._yy -= y * y
        self._yn -= y * n
        self._nn -= n * n
        kept.n = n = n + 1
        kept.total = y = y + float(value)
        self._yy += y * y
        self._yn += y * n
        self._nn += n * n
        self.n += 1
        self.total += float(value)

    @property
    def units(self) -> int:
        return len(self._units)

    @property
    def mean(self) -> float:
        if self.n == 0:
            raise ValueError("no observations")
        return self.total / self.n

    @property
    def variance_of_mean(self) -> float:
        """The cluster-robust variance of :attr:`mean`; needs at least two units."""
        k = len(self._units)
        if k < 2:
            raise ValueError("a clustered variance needs at least two units")
        mean = self.mean
        # sum((y_k - mean * n_k)**2), expanded; never below 0 for rounding's sake.
        spread = max(self._yy - 2 * mean * self._yn + mean * mean * self._nn, 0.0)
        return k / (k - 1) * spread / (self.n * self.n)
