"""The Pareto front of the trials: non-dominated over test error (min), digits per second on
the device (max) and RAM (min); the front of the trials within the device's limits; and, when no
trial is within them, the closest one."""
from __future__ import annotations

from lenet_edge.compress import budget as budgets
from lenet_edge.tune.trial import OBJECTIVES, meets

# (key, +1 to minimize, -1 to maximize): the searcher's objectives
AXES = tuple((name, 1 if mode == "min" else -1) for name, mode in OBJECTIVES.items())


def _key(trial: dict) -> tuple:
    return tuple(sign * trial[name] for name, sign in AXES)


def dominates(a: dict, b: dict) -> bool:
    """a is no worse than b on every axis and better on one."""
    ka, kb = _key(a), _key(b)
    return all(x <= y for x, y in zip(ka, kb)) and ka != kb


def pareto(trials: list[dict]) -> list[dict]:
    """The non-dominated trials, by error then speed."""
    front = [t for t in trials if not any(dominates(o, t) for o in trials)]
    return sorted(front, key=_key)


def shortfall(trial: dict, target: budgets.Budget) -> float:
    """How far a trial is from the limits: the sum of its relative misses (0: within them)."""
    misses = [max(0.0, trial["flash_bytes"] / target.flash_bytes - 1), max(0.0, trial["ram_bytes"] / target.ram_bytes - 1)]
    if target.digits_per_second is not None:
        misses.append(max(0.0, target.digits_per_second / trial["digits_per_second"] - 1))
    return sum(misses)


def within(trials: list[dict], target: budgets.Budget) -> list[dict]:
    return [t for t in trials if meets(t, target)]


def closest(trials: list[dict], target: budgets.Budget) -> dict | None:
    """The trial nearest to meeting the limits (trained ones first), then the lowest error."""
    if not trials:
        return None
    return min(trials, key=lambda t: (t["hopeless"] is not None, shortfall(t, target), t["error"]))
