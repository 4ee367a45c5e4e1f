"""The Gamma-Gamma model of spend per purchase: log-likelihood, gradient, fit, expectation.

Fader, Hardie and Lee (2005), "RFM and CLV: Using Iso-Value Curves for Customer Base
Analysis", Journal of Marketing Research 42(4), 415-430, and Fader and Hardie (2013),
"The Gamma-Gamma Model of Monetary Value".

Each purchase's value is Gamma(p, nu); across customers nu ~ Gamma(q, v). For a customer with
``x`` purchases of mean value ``m`` the density of ``m`` is::

    f(m | p, q, v; x) = G(p x + q) / (G(p x) G(q)) * v^q * m^(p x - 1) * x^(p x) / (v + x m)^(p x + q)

and the expected value of a purchase given ``(x, m)`` is ``p (v + x m) / (p x + q - 1)``, a
weighted mean of the population mean ``p v / (q - 1)`` and the customer's own ``m``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln

from opskit._bgnbd import _HIGH, _LOW, maximise

__all__ = ["conditional_value", "fit", "log_likelihood"]


def log_likelihood(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Per-customer log-density of the mean value ``m`` of ``x`` purchases."""
    p, q, v = params
    px = p * x
    return (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v) + (px - 1) * np.log(m)
            + px * np.log(x) - (px + q) * np.log(v + x * m))


def _objective(log_params: np.ndarray, x, m, w) -> tuple[float, np.ndarray]:
    params = np.exp(log_params)
    p, q, v = params
    px = p * x
    log_vxm = np.log(v + x * m)
    d_p = x * (digamma(px + q) - digamma(px) + np.log(m) + np.log(x) - log_vxm)
    d_q = digamma(px + q) - digamma(q) + np.log(v) - log_vxm
    d_v = q / v - (px + q) / (v + x * m)
    grad = np.array([(w * d).sum() for d in (d_p, d_q, d_v)]) * params
    return -float((w * log_likelihood(params, x, m)).sum()), -grad


def _working(z: np.ndarray, x, m, w) -> tuple[float, np.ndarray]:
    """:func:`_objective` in the working parameters (log p, log q, log p v).

    When every customer always pays the same amount (a subscription price), the
    likelihood rises towards p -> infinity, v -> 0 with p v fixed; in these coordinates
    that ridge runs along one axis, which BFGS follows well.
    """
    value, grad = _objective(np.array([z[0], z[1], z[2] - z[0]]), x, m, w)
    return value, np.array([grad[0] - grad[2], grad[1], grad[2]])


def fit(x: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, float, bool]:
    """Maximum-likelihood ``(p, q, v)``, the log-likelihood, and whether it converged.

    Two starts, keeping the better: all parameters 1, and the same with v = the mean
    value (v has the unit of money, so this start does not depend on the currency).
    """
    keys, w = np.unique(np.column_stack([x, m]), axis=0, return_counts=True)
    starts = [np.zeros(3), np.array([0.0, 0.0, np.log(max(float(np.mean(m)), 1e-9))])]
    bounds = np.array([(_LOW, _HIGH), (_LOW, _HIGH), (-25.0, 25.0)])
    z, ll, ok = maximise(_working, starts, bounds, (keys[:, 0], keys[:, 1], w.astype("float64")))
    return np.exp([z[0], z[1], z[2] - z[0]]), ll, ok


def conditional_value(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """E[value of a purchase | x, m] = p (v + x m) / (p x + q - 1); ``p v / (q - 1)`` when x = 0."""
    p, q, v = params
    return p * (v + x * m) / (p * x + q - 1)
