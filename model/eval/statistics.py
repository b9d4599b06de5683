"""Means, 95 % confidence intervals (Student t over seeds) and paired differences of the benchmark's per-seed rows.

A row (model/eval/compositional.py) is one configuration, backbone, seed and split with its metrics; a comparison of
two configurations is the mean over seeds of their per-seed difference, with the t interval of that difference
(paired: both configurations of a seed share the host checkpoint and the data order).
"""

import math

from scipy import stats

CONFIDENCE = 0.95


def mean_ci(values: list[float]) -> tuple[float, float]:
    """(mean, half-width of the 95 % t interval); the half-width is NaN for fewer than two values."""
    n = len(values)
    if n == 0:
        return float("nan"), float("nan")
    mean = sum(values) / n
    if n < 2:
        return mean, float("nan")
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, stats.t.ppf((1 + CONFIDENCE) / 2, n - 1) * sd / math.sqrt(n)


def by_seed(rows: list[dict], configuration: str, backbone: str, split: str, metric: str) -> dict[int, float]:
    return {r["seed"]: r[metric] for r in rows
            if (r["configuration"], r["backbone"], r["split"]) == (configuration, backbone, split)}


def paired_difference(rows: list[dict], a: str, b: str, backbone: str, split: str, metric: str) -> dict:
    """a - b over the seeds both have: {"mean", "low", "high", "seeds", "a", "b"} (a and b: their means there)."""
    first, second = by_seed(rows, a, backbone, split, metric), by_seed(rows, b, backbone, split, metric)
    seeds = sorted(set(first) & set(second))
    mean, half = mean_ci([first[s] - second[s] for s in seeds])
    return {"mean": mean, "low": mean - half, "high": mean + half, "seeds": len(seeds),
            "a": mean_ci([first[s] for s in seeds])[0], "b": mean_ci([second[s] for s in seeds])[0]}


def summarise(rows: list[dict], metrics: tuple[str, ...], order: tuple[str, ...]) -> list[dict]:
    """Per (configuration, backbone, split): seeds, queries, R@1 step (100 / queries) and mean and CI of each metric,
    in `order` of configurations."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["configuration"], row["backbone"], row["split"]), []).append(row)
    summary = []
    for key in sorted(groups, key=lambda k: (k[1], order.index(k[0]) if k[0] in order else len(order), k[2])):
        found = groups[key]
        entry = {"configuration": key[0], "backbone": key[1], "split": key[2], "seeds": len(found),
                 "queries": found[0]["queries"], "r1_step": 100.0 / found[0]["queries"]}
        for metric in metrics:
            entry[f"{metric}_mean"], entry[f"{metric}_ci95"] = mean_ci([r[metric] for r in found])
        summary.append(entry)
    return summary


def target(rows: list[dict], a: str, b: str, backbone: str, split: str, metric: str, margin: float) -> tuple[bool, str]:
    """Is a - b >= margin on average with the CI of the paired difference above zero? (met, one printable line)."""
    d = paired_difference(rows, a, b, backbone, split, metric)
    met = d["seeds"] >= 2 and d["mean"] >= margin and d["low"] > 0
    line = (f"[{backbone}] {split}: {a} vs {b}, {metric}: {d['a']:.1f} vs {d['b']:.1f} = {d['mean']:+.1f} "
            f"(95% CI {d['low']:+.1f} .. {d['high']:+.1f}, {d['seeds']} seeds; target >= +{margin:g} with CI > 0): "
            + ("MET" if met else "NOT MET"))
    return met, line
