"""The papers' figures per model, as data (source: /work/shared/docs/LENET_FACTS.md).

The tests compare the built models against these; benchmarks quote the error rates.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class PaperFigures:
    parameters: int  # trainable ("free") parameters
    connections: int | None  # multiply-adds per digit, None where no paper gives it
    test_error: float | None  # fraction of test digits misclassified, None where not a paper net
    approximate: bool  # True when the paper gives "about" figures (compare within 10%)
    source: str
    notes: tuple[str, ...] = ()  # other figures and the open questions
    test_error_distorted: float | None = None  # when trained on randomly distorted digits


FIGURES = {
    "lenet1989": PaperFigures(
        parameters=9_760,
        connections=64_660,
        test_error=0.050,
        approximate=False,
        source="LeCun et al. 1989, Neural Computation (zip codes, USPS)",
        notes=(
            "1,256 units; 0.14% training error; 12.1% rejection for 1% error on the test set",
            "7,291 training and 2,007 test digits",
            "open: which 8 of the 12 H1 maps each H2 map reads (lecun1989-repro's scheme used)",
            "open: how H2's input is padded (\"same\" zero padding used)",
        ),
    ),
    "lenet1": PaperFigures(
        parameters=2_578,
        connections=98_442,
        test_error=0.017,
        approximate=False,
        source="LeCun et al. NIPS 1989; MNIST error from the 1998 comparison",
        notes=("4,635 units", "zip codes: 1% error at about 9% rejection"),
    ),
    "lenet1-4x": PaperFigures(
        parameters=10_714,
        connections=None,
        test_error=None,
        approximate=True,
        source="LeCun et al. NIPS 1989: LeNet-1 \"was started by a previous CNN with 4 times as "
               "many trainable parameters\"; its layer sizes are not given (ours: 3x the maps)",
    ),
    "lenet4": PaperFigures(
        parameters=17_000,
        connections=260_000,
        test_error=0.011,
        approximate=True,
        source="LeCun et al. 1998, Section III comparison",
        notes=(
            "open: the layer sizes; chosen by lenet4.size_search within 10% of both totals",
            "boosted LeNet-4 with distortions: 0.7%",
        ),
    ),
    "lenet5": PaperFigures(
        parameters=60_000,
        connections=340_908,
        test_error=0.0095,
        approximate=False,
        source="LeCun et al. 1998, Fig. 2 and Table I",
        test_error_distorted=0.008,
        notes=(
            "about 327,000 multiply-adds with the C3 table, 417,000 with a full C3",
        ),
    ),
    "lenet5-reader": PaperFigures(
        parameters=60_000,
        connections=340_992,  # LeNet-5's 340,908 and the 11th RBF unit's 84 distances
        test_error=None,
        approximate=False,
        source="LeNet-5 of LeCun et al. 1998 with a non-digit output (their Section V recognizer)",
    ),
    "lenet5-modern": PaperFigures(
        parameters=61_706,
        connections=None,
        test_error=None,
        approximate=False,
        source="the common Keras LeNet-5 (full C3, average pooling, dense softmax output)",
    ),
}
