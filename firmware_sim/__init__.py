"""firmware_sim: a bit-exact numpy emulator of TensorFlow Lite Micro for int8 .tflite models.

    graph = firmware_sim.load_model("lenet5.tflite")
    y = firmware_sim.run(graph, x_int8)          # x: (N, 32, 32, 1) int8 -> y: (N, 10) int8
    firmware_sim.layer_costs(graph)              # MACs and bytes per layer

Outputs equal TFLM's reference kernels byte for byte. Anything not re-exported here is internal.

Three layers, imported one way: emulator (the .tflite reader, IR, kernels, interpreter), fit
(cost model, arena planner, device profiles, check) and firmware (C generator, runtime C, QEMU).
This package imports the emulator only; every error is a FirmwareSimError.
"""
from firmware_sim.emulator.cost import LayerCost, layer_costs
from firmware_sim.emulator.interpreter import Interpreter, quantize_input, run
from firmware_sim.emulator.ir import Graph
from firmware_sim.emulator.model_file import load_model
from firmware_sim.errors import (ArgumentError, FirmwareSimError, InputError, ModelFileError,
                                 UnsupportedOpError)

__all__ = ["ArgumentError", "FirmwareSimError", "Graph", "InputError", "Interpreter", "LayerCost",
           "ModelFileError", "UnsupportedOpError", "layer_costs", "load_model", "quantize_input",
           "run"]
