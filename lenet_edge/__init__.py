"""lenet-edge: the LeNet family from Keras training to an int8 digit reader on a microcontroller."""
import os

# tfmot needs Keras 2 (tf_keras); this must be set before TensorFlow is first imported.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
