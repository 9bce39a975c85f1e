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


def _accepted_errors(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """errors[k - 1] = wrong answers among the k most confident digits."""
    order = np.argsort(-probabilities.max(axis=1), kind="stable")
    wrong = probabilities.argmax(axis=1)[order] != np.asarray(labels)[order]
    return np.cumsum(wrong)


def rejection_curve(probabilities: np.ndarray, labels: np.ndarray,
                    rates=REJECTION_RATES) -> list[RejectionPoint]:
    errors = _accepted_errors(probabilities, labels)
    points = []
    for rate in rates:
        accepted = max(1, round((1.0 - rate) * len(errors)))
        points.append(RejectionPoint(rate, accepted, float(errors[accepted - 1] / accepted)))
    return points


def rejection_for_error(probabilities: np.ndarray, labels: np.ndarray, target: float) -> float:
    """The least rejection rate whose accepted digits have at most `target` error (1.0 if none)."""
    errors = _accepted_errors(probabilities, labels)
    accepted = np.arange(1, len(errors) + 1)
    good = np.nonzero(errors <= target * accepted)[0]
    return 1.0 - (good[-1] + 1) / len(errors) if len(good) else 1.0
