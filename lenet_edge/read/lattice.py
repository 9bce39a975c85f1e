"""Segmentation by recognition (Burges, LeCun et al. 1992-1998): over-segment the string with
candidate cuts, let the network classify every run of consecutive pieces, and keep the path
through this lattice with the best total score.

A node is a boundary: the set of ink pixels left of it (a gap between components, or a cut
inside one). An edge from node a to node b is the candidate digit made of the pixels left of b
and not left of a; it exists only when the two boundaries do not cross.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from lenet_edge.read.cuts import candidate_cuts
from lenet_edge.read.image import ReadError
from lenet_edge.read.segment import Component, component_of

MAX_WIDTH = 1.6  # x the string's height: a wider candidate is one or two whole components or none
MIN_CUT_WIDTH = 0.75  # components narrower than this x the height are not cut


@dataclasses.dataclass
class Lattice:
    ys: np.ndarray  # (P,) the string's ink pixels
    xs: np.ndarray
    part: np.ndarray  # (P,) the connected component of each pixel
    left: np.ndarray  # bool (nodes, P): which pixels lie left of each boundary, first node none, last all
    crossed: np.ndarray  # (nodes,) ink pixels each boundary cuts through (0 between components)
    edges: list[tuple[int, int]]  # (a, b) with a < b: a candidate digit

    def pixels(self, edge: tuple[int, int]) -> np.ndarray:
        a, b = edge
        return self.left[b] & ~self.left[a]

    def all_pixels(self) -> np.ndarray:
        """bool (edges, P): pixels() of every edge at once."""
        a, b = np.array(self.edges).T
        return self.left[b] & ~self.left[a]

    def parts(self) -> np.ndarray:
        """(edges,) how many connected components each candidate's ink comes from."""
        chosen = self.all_pixels()
        return np.stack([chosen[:, self.part == k].any(axis=1) for k in np.unique(self.part)]).sum(axis=0)

    def candidate(self, edge: tuple[int, int]) -> Component:
        chosen = self.pixels(edge)
        return component_of(np.stack([self.ys[chosen], self.xs[chosen]], axis=1))


def _boundaries(found: list[Component], height: float) -> tuple[np.ndarray, ...]:
    """(ys, xs, component of each pixel, left sets, ink crossed, which boundaries lie between
    components): a boundary after every component and at every cut inside one."""
    ys, xs, rank = [], [], []
    for k, component in enumerate(found):
        y, x = np.nonzero(component.mask)
        ys.append(y + component.box.top), xs.append(x + component.box.left), rank.append(np.full(len(y), k))
    ys, xs, rank = np.concatenate(ys), np.concatenate(xs), np.concatenate(rank)
    left, crossed = [rank < k for k in range(len(found) + 1)], [0] * (len(found) + 1)
    for k, component in enumerate(found):
        if component.box.width < MIN_CUT_WIDTH * height:
            continue
        mine = rank == k
        rows, cols = ys[mine] - component.box.top, xs[mine] - component.box.left
        for cut in candidate_cuts(component.mask, height):
            inside = np.zeros_like(mine)
            inside[mine] = cols < cut[rows]
            left.append((rank < k) | inside)
            crossed.append(int(component.mask[np.arange(len(cut)), np.floor(cut).astype(int)].sum()))
    between = np.arange(len(left)) <= len(found)
    return ys, xs, rank, np.array(left), np.array(crossed), between


def build(found: list[Component], height: float) -> Lattice:
    """The lattice of the string's components (left to right): every candidate no wider than a
    digit can be, and every run of one or two whole components."""
    ys, xs, rank, left, crossed, between = _boundaries(found, height)
    # Order boundaries left to right by how much ink they leave on their left, without repeats.
    first = {}  # each distinct left set's first boundary (np.unique(axis=0) took 2 ms a string)
    for i, row in enumerate(np.packbits(left, axis=1)):
        first.setdefault(row.tobytes(), i)
    order = sorted(first.values(), key=lambda i: (left[i].sum(), i))
    left, crossed = left[order], crossed[order]
    # One or two whole components are always candidates, however wide (the score's width prior
    # judges them), so a path always exists, and one for any count the components allow.
    gaps = np.nonzero(between[order])[0]
    edges = []
    for a in range(len(left) - 1):
        later = left[a + 1:]
        chosen = later & ~left[a]
        spans = np.where(chosen, xs, -1).max(axis=1) - np.where(chosen, xs, xs.max() + 1).min(axis=1) + 1
        allowed = ~(left[a] & ~later).any(axis=1) & (spans <= MAX_WIDTH * height)
        if a in gaps:
            allowed[gaps[np.searchsorted(gaps, a) + 1:][:2] - a - 1] = True
        edges += [(a, a + 1 + i) for i in np.nonzero(allowed)[0]]
    return Lattice(ys, xs, rank, left, crossed, edges)


def best_path(scores: np.ndarray, edges: list[tuple[int, int]], nodes: int,
              count: int | None = None) -> list[int]:
    """Indices of the edges of the best-scoring path from the first node to the last, with
    `count` edges when given (dynamic programming over (node, edges so far))."""
    best = np.full((nodes, nodes), -np.inf)  # a path has at most nodes - 1 edges
    best[0, 0] = 0.0
    back = np.full((nodes, nodes), -1)
    for e in sorted(range(len(edges)), key=lambda e: edges[e][1]):
        a, b = edges[e]
        candidate = best[a, :-1] + scores[e]
        better = candidate > best[b, 1:]
        best[b, 1:][better], back[b, 1:][better] = candidate[better], e
    if count is None:
        n = int(np.argmax(best[-1]))
    elif count < nodes and np.isfinite(best[-1, count]):
        n = count
    else:
        counts = np.nonzero(np.isfinite(best[-1]))[0]
        raise ReadError(f"cannot split the image into {count} digits: "
                        f"the candidate cuts allow {counts.min()} to {counts.max()}")
    path = []
    while n:
        e = back[-1 if not path else edges[path[-1]][0], n]
        path.append(int(e))
        n -= 1
    return path[::-1]
