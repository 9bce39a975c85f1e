"""Error versus rejection: refuse the digits the network is least sure of, and measure the
error among the ones it accepts (the 1989/1990 papers: "1% error at 9-12% rejection")."""
from __future__ import annotations

import dataclasses

import numpy as np

REJECTION_RATES = (0.0, 0.01, 0.02, 0.05, 0.10, 0.15, 0.20)
ERROR_TARGETS = (0.01, 0.005, 0.001)


@dataclasses.dataclass(frozen=True)
class RejectionPoint:
    rejection: float
    accepted: int
    error: float  # among the accepted digits


def margin(scores: np.ndarray) -> np.ndarray:
    """Per row, the largest score minus the second largest: how far the answer is from a tie."""
    top_two = np.sort(scores, axis=1)[:, -2:]
    return top_two[:, 1] - top_two[:, 0]


def _accepted_errors(wrong: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """errors[k - 1] = wrong answers among the k most confident."""
    order = np.argsort(-np.asarray(confidence), kind="stable")
    return np.cumsum(np.asarray(wrong)[order])


def _digit_errors(probabilities: np.ndarray, labels: np.ndarray,
                  confidence: np.ndarray | None = None) -> np.ndarray:
    """Confidence is the top probability unless given (for int8 outputs, whose top probabilities
    tie, the margin of the logits ranks better)."""
    if confidence is None:
        confidence = probabilities.max(axis=1)
    return _accepted_errors(probabilities.argmax(axis=1) != np.asarray(labels), confidence)


def rejection_curve(probabilities: np.ndarray, labels: np.ndarray, rates=REJECTION_RATES,
                    confidence: np.ndarray | None = None) -> list[RejectionPoint]:
    errors = _digit_errors(probabilities, labels, confidence)
    points = []
    for rate in rates:
        accepted = max(1, round((1.0 - rate) * len(errors)))
        points.append(RejectionPoint(rate, accepted, float(errors[accepted - 1] / accepted)))
    return points


def rejection_needed(wrong: np.ndarray, confidence: np.ndarray, target: float) -> float:
    """The least share of answers to reject, least confident first, for the accepted ones to
    have at most `target` error (1.0 if none): for digits, or for whole strings."""
    errors = _accepted_errors(wrong, confidence)
    accepted = np.arange(1, len(errors) + 1)
    good = np.nonzero(errors <= target * accepted)[0]
    return 1.0 - (good[-1] + 1) / len(errors) if len(good) else 1.0


def rejection_for_error(probabilities: np.ndarray, labels: np.ndarray, target: float,
                        confidence: np.ndarray | None = None) -> float:
    """The least rejection rate whose accepted digits have at most `target` error (1.0 if none)."""
    if confidence is None:
        confidence = probabilities.max(axis=1)
    return rejection_needed(probabilities.argmax(axis=1) != np.asarray(labels), confidence, target)
