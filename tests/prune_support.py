"""The pruning tests' source run: LeNet-1 trained one epoch on a slice of MNIST."""
import pytest

from lenet_edge.run import RunConfig
from lenet_edge.train.loop import train

SLICE = dict(train_limit=1024, test_limit=256, batch_size=32)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs") / "lenet1"
    train(folder, RunConfig("lenet1", epochs=1, **SLICE), progress=False)
    return folder
