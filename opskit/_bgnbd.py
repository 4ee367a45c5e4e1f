"""The BG/NBD model: log-likelihood, its gradient, the fit and the conditional expectations.

Fader, Hardie and Lee (2005), "Counting Your Customers the Easy Way: An Alternative to the
Pareto/NBD Model", Marketing Science 24(2), 275-284: equations (6) (likelihood), (10)
(expected purchases) and the note "Computing P(alive) Using the BG/NBD Model" (2008).

While alive, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha);
after each purchase they drop out with probability p ~ Beta(a, b). For a customer with
``x`` repeat purchases, the last at ``t_x``, observed for ``T``::

    L = B(a, b + x) / B(a, b) * G(r + x) alpha^r / (G(r) (alpha + T)^(r + x))
      + [x > 0] B(a + 1, b + x - 1) / B(a, b) * G(r + x) alpha^r / (G(r) (alpha + t_x)^(r + x))

computed on the log scale (``gammaln``, ``betaln``, ``logaddexp``). The fit maximises the
sum over customers with the analytic gradient, in working parameters that straighten the
model's ridges (:func:`_working`); customers with the same ``(x, t_x, T)`` are counted once
with a weight.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

__all__ = ["conditional_purchases", "fit", "log_likelihood", "prob_alive"]

# Working parameters are kept in [-25, 18] (exp(18) = 6.6e7): beyond, differences such as
# gammaln(r + x) - gammaln(r) or betaln(a, b + x) - betaln(a, b) lose their precision to
# cancellation, and the fit would chase rounding noise along a ridge to infinity.
_LOW, _HIGH = -25.0, 18.0


def _terms(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, age: np.ndarray):
    r, alpha, a, b = params
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    t1 = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + age)
    repeat = x > 0
    safe = np.where(repeat, b + x - 1, 1.0)
    t2 = np.where(repeat, betaln(a + 1, safe) - betaln(a, b) - (r + x) * np.log(alpha + t_x), -np.inf)
    return head, t1, t2, repeat, safe


def log_likelihood(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Per-customer log-likelihood at ``params = (r, alpha, a, b)``."""
    head, t1, t2, _, _ = _terms(params, x, t_x, age)
    return head + np.logaddexp(t1, t2)


def _objective(log_params: np.ndarray, x, t_x, age, w) -> tuple[float, np.ndarray]:
    """Minus the weighted log-likelihood, and its gradient in the log-parameters."""
    params = np.exp(log_params)
    r, alpha, a, b = params
    head, t1, t2, repeat, safe = _terms(params, x, t_x, age)
    total = np.logaddexp(t1, t2)
    w1, w2 = np.exp(t1 - total), np.exp(t2 - total)  # posterior weights of the two terms
    ab, abx = digamma(a + b), digamma(a + b + x)
    d_r = digamma(r + x) - digamma(r) + np.log(alpha) - w1 * np.log(alpha + age) - w2 * np.log(alpha + t_x)
    d_alpha = r / alpha - (r + x) * (w1 / (alpha + age) + w2 / (alpha + t_x))
    d_a = w1 * (ab - abx) + w2 * (digamma(a + 1) - digamma(a) + ab - abx)
    d_b = (w1 * (digamma(b + x) - abx - digamma(b) + ab)
           + w2 * np.where(repeat, digamma(safe) - abx - digamma(b) + ab, 0.0))
    grad = np.array([(w * d).sum() for d in (d_r, d_alpha, d_a, d_b)]) * params
    return -float((w * (head + total)).sum()), -grad


def _working(z: np.ndarray, x, t_x, age, w) -> tuple[float, np.ndarray]:
    """:func:`_objective` in the working parameters (log r, log alpha, logit mu, log kappa).

    ``a = mu kappa`` and ``b = (1 - mu) kappa``: mu is the mean probability of dropping out
    after a purchase and kappa how alike customers are in it. When everyone drops out with
    the same probability, the likelihood rises towards kappa -> infinity along a ridge; in
    these coordinates that ridge runs along one axis, which BFGS follows well (in log a,
    log b it is diagonal and curved, and BFGS stalls on it).
    """
    mu, kappa = expit(z[2]), np.exp(z[3])
    a, b = mu * kappa, (1 - mu) * kappa
    value, grad = _objective(np.array([z[0], z[1], np.log(a), np.log(b)]), x, t_x, age, w)
    d_a, d_b = grad[2] / a, grad[3] / b
    return value, np.array([grad[0], grad[1], (d_a - d_b) * kappa * mu * (1 - mu),
                            (d_a * mu + d_b * (1 - mu)) * kappa])


def fit(x: np.ndarray, t_x: np.ndarray, age: np.ndarray) -> tuple[np.ndarray, float, bool]:
    """Maximum-likelihood ``(r, alpha, a, b)``, the log-likelihood, and whether it converged.

    Two starts, keeping the better: all parameters 1 (mu = 1/2, kappa = 2), and the same
    with alpha = the mean age (alpha has the unit of time, so this start does not depend
    on the unit the summary is in).
    """
    keys, w = np.unique(np.column_stack([x, t_x, age]), axis=0, return_counts=True)
    scale = np.log(max(float(np.mean(age)), 1e-3))
    starts = [np.array([0.0, 0.0, 0.0, np.log(2)]), np.array([0.0, scale, 0.0, np.log(2)])]
    bounds = np.array([(_LOW, _HIGH), (_LOW, _HIGH), (-25.0, 25.0), (_LOW, _HIGH)])
    z, ll, ok = maximise(_working, starts, bounds, (keys[:, 0], keys[:, 1], keys[:, 2], w.astype("float64")))
    mu, kappa = expit(z[2]), np.exp(z[3])
    return np.array([np.exp(z[0]), np.exp(z[1]), mu * kappa, (1 - mu) * kappa]), ll, ok


def maximise(objective, starts: list[np.ndarray], bounds: np.ndarray,
             args: tuple) -> tuple[np.ndarray, float, bool]:
    """Minimise ``objective`` (minus a log-likelihood, and its gradient) from each start.

    BFGS, with the working parameters held within ``bounds`` (rows of low, high); the best
    end point wins. Converged: the gradient there is negligible,
    |gradient| <= 1e-5 x (1 + |log-likelihood|) (a parameter held at a bound and pulling
    outwards does not count). BFGS rather than L-BFGS-B: as precise, and much faster
    here.
    """
    low, high = bounds[:, 0], bounds[:, 1]

    def held(z: np.ndarray, *rest) -> tuple[float, np.ndarray]:
        inside = np.clip(z, low, high)
        value, grad = objective(inside, *rest)
        if not np.isfinite(value) or not np.all(np.isfinite(grad)):
            return np.inf, np.zeros(len(z))
        return value, np.where(inside == z, grad, 0.0)

    best = None
    with np.errstate(over="ignore", divide="ignore", invalid="ignore", under="ignore"):
        for start in starts:
            res = minimize(held, start, args=args, jac=True, method="BFGS",
                           options={"gtol": 1e-8, "maxiter": 3000})
            z = np.clip(res.x, low, high)
            value, grad = held(z, *args)
            if best is None or value < best[1]:
                best = (z, value, grad)
    z, value, grad = best
    outwards = ((z >= high) & (grad < 0)) | ((z <= low) & (grad > 0))
    grad = np.where(outwards, 0.0, grad)
    converged = bool(np.isfinite(value) and np.max(np.abs(grad)) <= 1e-5 * (1 + abs(value)))
    return z, -float(value), converged


def prob_alive(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, age: np.ndarray) -> np.ndarray:
    """P(alive | x, t_x, T) = 1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x))."""
    r, alpha, a, b = params
    repeat = x > 0
    safe = np.where(repeat, b + x - 1, 1.0)
    log_odds = np.log(a) - np.log(safe) + (r + x) * (np.log(alpha + age) - np.log(alpha + t_x))
    return np.where(repeat, 1.0 / (1.0 + np.exp(np.minimum(log_odds, 700))), 1.0)


def conditional_purchases(params: np.ndarray, t: float, x: np.ndarray, t_x: np.ndarray,
                          age: np.ndarray) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` (FHL 2005, equation 10).

    ``(a + b + x - 1) / (a - 1) * [1 - ((alpha + T) / (alpha + T + t))^(r + x)
    * 2F1(r + x, b + x; a + b + x - 1; t / (alpha + T + t))] * P(alive)``.
    """
    r, alpha, a, b = params
    if t == 0:
        return np.zeros(np.shape(x))
    z = t / (alpha + age + t)
    ratio = np.exp((r + x) * (np.log(alpha + age) - np.log(alpha + age + t)))
    bracket = 1.0 - ratio * hyp2f1(r + x, b + x, a + b + x - 1, z)
    return (a + b + x - 1) / (a - 1) * bracket * prob_alive(params, x, t_x, age)
