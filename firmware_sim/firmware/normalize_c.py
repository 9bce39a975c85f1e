"""normalize_data.c: the model's side and its 256-entry input table for runtime/normalize.c."""
from firmware_sim.emulator.ir import Graph
from firmware_sim.emulator.integer_normalize import input_table, model_side
from firmware_sim.firmware import cgen


def normalize_data_c(graph: Graph, source: str) -> str:
    """Raises InputError unless the model takes int8 MNIST digits (28x28, or 32x32 padded)."""
    table = input_table(graph)
    return (cgen.BANNER.format(source=source) + '#include "normalize.h"\n\n'
            "/* field value (0 background .. 255 ink) -> int8 model input: the dataset convention\n"
            " * and the model's input quantization (firmware_sim.emulator.integer_normalize.input_table) */\n" +
            cgen.array("normalize_table", table, "int8") + "\n" +
            cgen.struct("nn_normalize_t", "model_normalize",
                        {"side": model_side(graph), "table": "normalize_table"}, exported=True))
