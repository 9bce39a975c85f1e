"""The score of a candidate digit in the lattice: the network's log confidence plus a prior,
because an int8 LeNet-5 is as sure of half a 0 ("1") or of two touching digits ("8") as of a
digit. A recognizer trained on the reader's cuts (lenet5-reader) has an 11th output, "not a
digit": its probabilities are P(digit d) with P(not a digit) beside them, so the log of the best
digit's probability already pays log(1 - P(not a digit)) and a path through pieces the network
calls non-digits loses. The prior marks what is rarely one digit: a piece much wider or much shorter than the
string's height, ink from several components, a cut slicing many ink pixels; a bonus per digit
sets the balance between reading too many digits and too few.

The weights were chosen by a coordinate search on 300 strings of MNIST *training* digits (seeds
0-299, the benchmark's generator) and checked on 200 others (seeds 1000-1199), so the
benchmark's strings of test digits stay unseen; a prior on blank columns inside a candidate did
not help there and was left out.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from lenet_edge.read.lattice import Lattice
from lenet_edge.read.segment import Component

FLOOR = 1.0 / 512  # an int8 softmax prints 0 below 1/256: keep the log finite
DIGITS = 10  # the first ten outputs; an 11th is "not a digit"


@dataclasses.dataclass(frozen=True)
class Prior:
    wide: float = 1.4  # x the height: one digit is rarely wider (a whole component may be, to
    wide_weight: float = 50.0  # keep a path through the lattice), per (width - wide) squared
    short: float = 0.5  # candidates shorter than this x the height are broken pieces
    short_weight: float = 5.0
    parts_weight: float = 0.15  # per connected component beyond the first (two digits side by side)
    cut_weight: float = 2.5  # per ink pixel a cut slices, x the height (cutting a digit in two)
    digit_bonus: float = 0.1  # added per digit: how easily a path with more digits wins


def shape_scores(candidates: list[Component], graph: Lattice, height: float, prior: Prior = Prior()) -> np.ndarray:
    widths = np.array([c.box.width for c in candidates]) / height
    heights = np.array([c.box.height for c in candidates]) / height
    parts = graph.parts()
    crossed = graph.crossed[[b for _, b in graph.edges]] / height  # the cut on each candidate's right
    return (prior.digit_bonus
            - prior.wide_weight * np.maximum(0.0, widths - prior.wide) ** 2
            - prior.short_weight * np.maximum(0.0, prior.short - heights)
            - prior.parts_weight * (parts - 1)
            - prior.cut_weight * crossed)


def digit_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """(N, 10): each candidate's probability of being each digit; "not a digit" is never read."""
    return probabilities[:, :DIGITS]


def network_scores(probabilities: np.ndarray) -> np.ndarray:
    """log P(best digit), one per candidate: for an 11-output network, low when it says "not a digit"."""
    return np.log(np.maximum(digit_probabilities(probabilities).max(axis=1), FLOOR))


def scores(probabilities: np.ndarray, candidates: list[Component], graph: Lattice, height: float,
           prior: Prior = Prior()) -> np.ndarray:
    """log P(best digit) + shape prior, one per candidate (edge of the lattice)."""
    return network_scores(probabilities) + shape_scores(candidates, graph, height, prior)
