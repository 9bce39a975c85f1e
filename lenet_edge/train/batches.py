"""The arrays a run trains and tests on, in its model's input convention."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from lenet_edge.data import transforms
from lenet_edge.data.usps import load_usps, mnist_like
from lenet_edge.errors import UsageError
from lenet_edge.models import registry
from lenet_edge.models.layers import TANH_AMPLITUDE
from lenet_edge.run import RunConfig

MNIST_USPS = "mnist+usps"  # `train --data`: MNIST's training digits and USPS's
DRAWN = "drawn.npz"  # the training digits as the reader hands them, beside the run's candidates


@dataclasses.dataclass
class RunData:
    raw_train: np.ndarray  # the dataset's own images, distorted afresh each epoch
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    convention: str
    loss: str
    distort: bool
    # the first len(drawn) training digits as the reader hands them (read/candidates.as_read):
    # each epoch shows every such digit in one of its two forms, drawn at random
    drawn: np.ndarray | None = None

    def training_epoch(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One epoch's inputs and targets: shuffled, and distorted when the run asks for it."""
        raw, x = self.raw_train, self.x_train
        if self.drawn is not None:
            raw = raw.copy()
            pick = np.nonzero(rng.random(len(self.drawn)) < 0.5)[0]
            raw[pick] = self.drawn[pick]
        order = rng.permutation(len(self.y_train))
        if self.distort:
            x = transforms.CONVENTIONS[self.convention](transforms.distort(raw[order], rng))
        elif self.drawn is not None:
            x = transforms.CONVENTIONS[self.convention](raw[order])
        else:
            x = x[order]
        return x, targets(self.y_train[order], self.loss)


def targets(labels: np.ndarray, loss: str) -> np.ndarray:
    """Class indices for cross-entropy; for the MSE nets, the paper's +1 for the class and -1
    elsewhere. Those targets are for f(a) = A tanh(Sa), whose amplitude A the zoo folds into the
    next layer's weights (layers.py), so here they are +-1/A in plain tanh units: inside tanh's
    quasi-linear range, as the 1989 paper chose them, rather than at its asymptotes."""
    if loss != "mse":
        return labels
    signs = np.where(np.eye(10, dtype=np.float32)[labels] > 0, 1.0, -1.0)
    return (signs / TANH_AMPLITUDE).astype(np.float32)


def load_split(model: str, split: str, limit: int | None = None, data_dir: Path | None = None):
    """(raw images, model inputs, labels) of one split, the first `limit` digits if given."""
    spec = registry.spec(model)
    raw, labels = transforms.load_dataset(spec.dataset, split, data_dir)
    raw, labels = raw[:limit], labels[:limit]
    return raw, transforms.CONVENTIONS[spec.input_convention](raw), labels.astype(np.int64)


def check_data(config: RunConfig) -> None:
    """--data names the model's own dataset or, for an MNIST model, mnist+usps."""
    dataset = registry.spec(config.model).dataset
    if config.data not in (None, dataset, MNIST_USPS):
        raise UsageError(f"--data takes {dataset} or {MNIST_USPS}, got {config.data!r}")
    if config.data == MNIST_USPS and dataset != "mnist":
        raise UsageError(f"--data {MNIST_USPS} trains MNIST models; {config.model} takes {dataset} digits")


def training_digits(config: RunConfig, data_dir: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(raw images, labels) to train on: the model's dataset, or with --data mnist+usps MNIST's
    training digits followed by USPS's, made MNIST-like as the reader's USPS strings make them
    (the first config.train_limit of each)."""
    raw, _, labels = load_split(config.model, "train", config.train_limit, data_dir)
    if config.data != MNIST_USPS:
        return raw, labels
    usps, usps_labels = load_usps("train", data_dir)
    limit = slice(config.train_limit)
    return (np.concatenate([raw, mnist_like(usps[limit])]),
            np.concatenate([labels, usps_labels[limit].astype(np.int64)]))


def load_run_data(config: RunConfig, data_dir: Path | None = None, cache: Path | None = None) -> RunData:
    """The run's training and test arrays; with config.candidate_strings, the training digits
    are joined by the reader's labelled cuts of that many strings drawn from them (kept in the
    .npz `cache` when given, so a resumed run does not cut them again). The test digits are
    always the model's dataset's."""
    spec = registry.spec(config.model)
    if config.distort and spec.dataset != "mnist":
        raise UsageError(f"--distort applies to MNIST models; {config.model} trains on {spec.dataset}")
    raw, y_train = training_digits(config, data_dir)
    drawn = _as_read(raw, config, cache) if config.drawn_digits else None
    if config.candidate_strings:
        cuts, labels = _candidates(raw, y_train, config, cache)
        raw, y_train = np.concatenate([raw, cuts]), np.concatenate([y_train, labels.astype(np.int64)])
    x_train = transforms.CONVENTIONS[spec.input_convention](raw)
    _, x_test, y_test = load_split(config.model, "test", config.test_limit, data_dir)
    return RunData(raw, x_train, y_train, x_test, y_test, spec.input_convention, spec.loss, config.distort, drawn)


def _candidates(raw: np.ndarray, labels: np.ndarray, config: RunConfig, cache: Path | None):
    from lenet_edge.read import candidates  # PIL and the reader, only for the runs that cut strings

    if cache is None:
        return candidates.build(raw, labels, config.candidate_strings, config.seed, config.scans)
    return candidates.cached(cache, raw, labels, config.candidate_strings, config.seed, config.scans)


def _as_read(raw: np.ndarray, config: RunConfig, cache: Path | None) -> np.ndarray:
    from lenet_edge.read import candidates

    if cache is None:
        return candidates.as_read(raw, config.seed, config.scans)
    return candidates.cached_as_read(cache.with_name(DRAWN), raw, config.seed, config.scans)
