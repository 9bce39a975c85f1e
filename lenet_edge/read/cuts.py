"""Candidate cuts between touching digits (heuristic over-segmentation): the network judges
every piece they make, so a spurious cut costs little, but a missing cut cannot be recovered.

A cut is a float array `path` with one x per row of a component's box: pixel (y, x) lies left
of the cut when x < path[y]. The cuts are seams: the top-to-bottom paths crossing the fewest
ink pixels, moving at most one column a row, so they lean with the writing and bend around an
overlapping stroke where a straight cut (a minimum of the column projection) would slice it.
Projection minima at five slants and drop-fall paths were tried as extra candidates; on
strings of MNIST training digits they gave more, wrong, confident readings and no right ones.
"""
from __future__ import annotations

import numpy as np

EDGE = 0.1  # no cut nearer a component's side than this x the string's height: no digit is thinner
DIAGONAL = 0.1  # the cost of a seam's sideways step, in ink pixels crossed


def _local_minima(profile: np.ndarray, low: int, high: int) -> list[int]:
    """Indices in [low, high) of the minima of each valley (the middle of a flat bottom)."""
    minima, x = [], max(low, 1)
    while x < min(high, len(profile) - 1):
        end = x
        while end + 1 < len(profile) and profile[end + 1] == profile[x]:
            end += 1
        if profile[x - 1] > profile[x] and end + 1 < len(profile) and profile[end + 1] > profile[x]:
            minima.append((x + end + 1) // 2)
        x = end + 1
    return minima


def _cumulative(cost: np.ndarray) -> np.ndarray:
    """total[y, x]: the least cost of a path from the top row to (y, x) moving at most one
    column a row (a diagonal step costs a little, so straight paths win ties)."""
    total = cost.copy()
    above = np.full(cost.shape[1] + 2, np.inf)  # the row above, between two walls of infinity
    for y in range(1, len(cost)):
        above[1:-1] = total[y - 1]
        total[y] += np.minimum(above[1:-1], np.minimum(above[:-2], above[2:]) + DIAGONAL)
    return total


def _trace(total: np.ndarray, x: int) -> list[int]:
    """Back up from (last row, x) along the cheapest predecessors."""
    path = [x]
    for y in range(len(total) - 2, -1, -1):
        lo = max(x - 1, 0)
        steps = total[y, lo:x + 2] + DIAGONAL * (np.arange(lo, min(x + 2, total.shape[1])) != x)
        x = lo + int(np.argmin(steps))
        path.append(x)
    return path[::-1]


def candidate_cuts(mask: np.ndarray, height: float) -> list[np.ndarray]:
    """The cheapest top-to-bottom paths (fewest ink pixels crossed) through each local minimum
    of that cost along the middle row: cuts that bend around strokes where digits overlap."""
    cost = mask.astype(np.float64)
    down, up = _cumulative(cost), _cumulative(cost[::-1])[::-1]
    middle = len(mask) // 2
    through = down[middle] + up[middle] - cost[middle]
    margin = int(EDGE * height)
    cuts = []
    for x in _local_minima(np.round(through, 3), margin, mask.shape[1] - margin):
        top, bottom = _trace(down[:middle + 1], x), _trace(up[middle:][::-1], x)[::-1]
        cuts.append(np.array(top + bottom[1:]) + 0.5)  # the seam's pixels go left
    return cuts
