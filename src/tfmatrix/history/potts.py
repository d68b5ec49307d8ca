"""asv's step detection (``asv.step_detect.detect_steps``, unweighted), with its hot loop in numpy.

A profile of the history's fits (2026-12-07, 366-run series) put 55 % of
``detect_steps`` in one pure-Python closure of ``solve_potts_autogamma``,
``sigma_star``: the noise term of its information criterion, evaluated for each
of ~14 candidate penalties times ~12 steps of a golden search over the noise
correlation ``rho``, a Python loop over every point each time.  This module is
the same algorithm (asv 0.6, BSD-3-Clause, copied below with its structure and
names) calling asv's own ``solve_potts_approx`` and ``golden_search``; only
``sigma_star`` differs, and it computes **the same floats**: the residuals
``E = y - level`` once per candidate penalty (``y - v`` per point, as asv does),
then ``|E_0| + sum |E_j - rho E_(j-1)|`` with ``numpy.cumsum``, which adds
left to right like asv's loop (``numpy.sum`` would add pairwise and round
differently).  Weights are all 1 (the history fits unweighted, see
:mod:`tfmatrix.history.changepoints`), so asv's ``* w`` factors are the identity.
A test compares :func:`detect_steps` with asv's over planted, flat, gapped and
constant series, level by level.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from asv.step_detect import get_mu_dist, golden_search, solve_potts_approx


def detect_steps(y: Sequence[float | None]) -> list[tuple[int, int]]:
    """asv's ``detect_steps(y)`` as (left, right) run indices: a missing value (None, NaN) is skipped."""
    index = [j for j, x in enumerate(y) if x is not None and x == x]
    values = [float(y[j]) for j in index]  # type: ignore[arg-type]
    rights = solve_potts_autogamma(values)
    out, left = [], 0
    for right in rights:
        out.append((index[left], index[right - 1] + 1))
        left = right
    return out


def solve_potts_autogamma(y: list[float]) -> list[int]:
    """asv's ``solve_potts_autogamma(y, w=[1] * n)``; only the rights of the best fit are returned."""
    n = len(y)
    if n == 0:
        return []
    w = [1] * n
    mu_dist = get_mu_dist(y, w)
    beta = 4 * math.log(n) / n
    gamma_0 = mu_dist.dist(0, n - 1)
    if gamma_0 == 0:
        gamma_0 = 1.0  # zero variance
    ys = np.asarray(y, dtype=float)
    best_r: list[list[int]] = [[]]
    best_obj = [math.inf]

    def f(x: float) -> float:
        gamma = gamma_0 * math.exp(x)
        r, v, _ = solve_potts_approx(y, w, gamma=gamma, mu_dist=mu_dist)
        errors = ys - np.repeat(np.asarray(v, dtype=float), np.diff(np.asarray([0, *r])))
        first = abs(errors[0])

        def sigma_star(rho: float) -> float:
            """|E_0| + sum_{j>0} |E_j - rho E_{j-1}|, added left to right as asv's loop adds it."""
            if n == 1:
                return float(first)
            terms = np.abs(errors[1:] - rho * errors[:-1])
            terms[0] += first  # asv starts its sum at |E_0|: the first addition is |E_0| + term_1
            return float(np.cumsum(terms)[-1])

        rho_best = golden_search(sigma_star, -1, 1, xatol=0.05, expand_bounds=True)
        if len(v) > 2:
            sigma_0 = 0.1 * min(abs(v[j + 1] - v[j]) for j in range(len(v) - 1))
        else:
            sigma_0 = 0.001 * min(abs(z) for z in v)
        sigma_0 = max(1e-300, sigma_0)
        obj = beta * len(r) + math.log(sigma_0 + sigma_star(rho_best))
        if obj < best_obj[0]:
            best_r[0], best_obj[0] = list(r), obj
        return obj

    a = math.log(0.1 / n)
    golden_search(f, a, 0.0, xatol=abs(a) * 0.1, ftol=0, expand_bounds=True)
    return best_r[0]
