"""lenet-edge: the LeNet family from Keras training to an int8 digit reader on a microcontroller."""
import os

from lenet_edge import _quiet_tf

# tfmot needs Keras 2 (tf_keras); this must be set before TensorFlow is first imported.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_quiet_tf.install()

__version__ = "0.1.0"
