"""firmware_sim.firmware: an int8 .tflite as a standalone C99 firmware folder.

    firmware = firmware_sim.firmware.generate(graph, "out/fw", board="mps2-an386", source="lenet5.tflite")
    firmware.arena_bytes, firmware.data_bytes, firmware.steps

The generated C is the hand-written runtime (runtime/*.c, one kernel per emulator kernel), the
emitted data (model_data.c: the emulator's prepared parameters as const arrays) and a thin
model.c (one static arena, one kernel call per fused step).
"""
from firmware_sim.firmware.generate import Firmware, StepInfo, generate

__all__ = ["Firmware", "StepInfo", "generate"]
