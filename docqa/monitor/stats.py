"""Two-sample tests and outlier scores for monitoring, with the calibration the field notes
ask for: permutation p-values that count the observed statistic, p = (1 + #{null >= obs}) /
(B + 1); an effect size with a confidence interval beside every p; rates with Wilson score
intervals and the two-proportion z-test of their change; Benjamini-Hochberg q.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TwoSample:
    """A drift test between a reference and a current sample."""

    n_reference: int
    n_current: int
    statistic: float  # MMD² (RBF kernel, median-heuristic bandwidth)
    p: float  # permutation p-value
    auc: float  # effect size: a classifier's out-of-fold ROC AUC telling the two apart
    auc_low: float  # 95% confidence interval of the AUC (Hanley & McNeil)
    auc_high: float
    q: float | None = None  # Benjamini-Hochberg, set when several tests are reported together


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.maximum(d, 0.0)


def mmd_permutation(
    x: np.ndarray, y: np.ndarray, permutations: int = 500, seed: int = 0
) -> tuple[float, float]:
    """(MMD², p) of a permutation test with an RBF kernel whose bandwidth is the median
    pairwise distance of the pooled sample."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    z = np.vstack([x, y])
    d = _sq_dists(z, z)
    upper = d[np.triu_indices(len(z), 1)]
    sigma2 = float(np.median(upper)) or 1.0
    k = np.exp(-d / sigma2)  # its diagonal is 1
    n, m = len(x), len(y)
    rng = np.random.default_rng(seed)
    # each row marks which pooled points play x: the observed split, then the permutations
    perms = [np.arange(len(z))] + [rng.permutation(len(z)) for _ in range(permutations)]
    a = np.zeros((len(perms), len(z)))
    for row, idx in zip(a, perms, strict=True):
        row[idx[:n]] = 1.0
    b = 1.0 - a
    ka = a @ k  # one matrix product for all splits, instead of copying K per split
    within_x = np.einsum("ij,ij->i", ka, a)  # sum of K over x-x pairs, diagonal included
    across = np.einsum("ij,ij->i", ka, b)
    within_y = k.sum() - within_x - 2 * across
    stats_ = (within_x - n) / (n * (n - 1)) + (within_y - m) / (m * (m - 1)) - 2 * across / (n * m)
    observed, null = float(stats_[0]), stats_[1:]
    p = (1 + int(np.sum(null >= observed))) / (permutations + 1)
    return observed, p


def auc_two_sample(x: np.ndarray, y: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    """(AUC, low, high): how well a logistic regression tells current (y) from reference (x)
    on held-out folds; 0.5 means indistinguishable. The interval is Hanley & McNeil's."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    z = np.vstack([x, y])
    labels = np.r_[np.zeros(len(x)), np.ones(len(y))]
    folds = max(2, min(5, len(x), len(y)))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = cross_val_predict(
        LogisticRegression(max_iter=1000, C=1.0), z, labels, cv=cv, method="decision_function"
    )
    auc, _ = rank_auc(scores[labels == 0], scores[labels == 1])
    n1, n2 = len(x), len(y)
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    se = math.sqrt(
        max(auc * (1 - auc) + (n2 - 1) * (q1 - auc**2) + (n1 - 1) * (q2 - auc**2), 0.0) / (n1 * n2)
    )
    return auc, max(0.0, auc - 1.96 * se), min(1.0, auc + 1.96 * se)


def rank_auc(negative: np.ndarray, positive: np.ndarray) -> tuple[float, float]:
    """(ROC AUC, two-sided p): the Mann-Whitney U statistic of `positive` over `negative`
    (ties count a half) divided by the number of pairs, and the test's p-value."""
    from scipy.stats import mannwhitneyu

    result = mannwhitneyu(positive, negative)
    return float(result.statistic / (len(negative) * len(positive))), float(result.pvalue)


def drift(x: np.ndarray, y: np.ndarray, permutations: int = 500, seed: int = 0) -> TwoSample:
    stat, p = mmd_permutation(x, y, permutations, seed)
    auc, low, high = auc_two_sample(x, y, seed)
    return TwoSample(len(x), len(y), stat, p, auc, low, high)


def wilson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of the proportion k/n (scipy's); (0, 1) when n is 0."""
    if n == 0:
        return 0.0, 1.0
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


@dataclass(frozen=True)
class ProportionChange:
    """A rate in the current sample against the reference's."""

    reference: float
    current: float
    effect: float  # current - reference
    low: float  # 95% (Wald) interval of the effect
    high: float
    p: float  # two-sided, pooled two-proportion z-test


def two_proportions(k1: int, n1: int, k2: int, n2: int) -> ProportionChange:
    """Reference k1 of n1 against current k2 of n2 (both n > 0)."""
    p1, p2 = k1 / n1, k2 / n2
    pooled = (k1 + k2) / (n1 + n2)
    se0 = math.sqrt(max(pooled * (1 - pooled) * (1 / n1 + 1 / n2), 1e-12))
    p = math.erfc(abs(p2 - p1) / se0 / math.sqrt(2))
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return ProportionChange(p1, p2, p2 - p1, p2 - p1 - 1.96 * se, p2 - p1 + 1.96 * se, p)


def benjamini_hochberg(ps: list[float]) -> list[float]:
    """q-values for p-values (the false discovery rate at which each would be rejected)."""
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    q = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, ps[i] * m / rank)
        q[i] = running
    return q


def knn_scores(reference: np.ndarray, points: np.ndarray, k: int = 5) -> np.ndarray:
    """Mean cosine distance from each point to its k nearest reference vectors (unit
    vectors); larger is further out."""
    return _knn(np.asarray(points) @ np.asarray(reference).T, k)


def knn_held_out(reference: np.ndarray, k: int = 5) -> np.ndarray:
    """Each reference point's kNN score against the others (leaving itself out): their
    99th percentile is the outlier threshold, and the reference's own outliers are those
    above it."""
    ref = np.asarray(reference)
    sims = ref @ ref.T
    np.fill_diagonal(sims, -np.inf)
    return _knn(sims, min(k, len(ref) - 1))


def _knn(sims: np.ndarray, k: int) -> np.ndarray:
    k = max(1, min(k, sims.shape[1]))
    nearest = -np.sort(-sims, axis=1)[:, :k]
    return 1.0 - nearest.mean(axis=1)
