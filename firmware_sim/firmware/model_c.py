"""Assemble model.h, model_data.c and model.c from the emitted steps and the arena plan.

model.c stays thin: the arena, pointers into it, and one kernel call per step.
"""
from dataclasses import dataclass

from firmware_sim.emulator.ir import Graph
from firmware_sim.firmware import cgen
from firmware_sim.fit.arena import ArenaPlan

# model_invoke at -O0: its frame is then the same however many kernel calls it holds (no
# spilled temporaries), only the widest call's stack-passed arguments add to it, so that
# calibrate can measure it once per kernel (stack_usage.py bounds it)
INVOKE_ATTRIBUTE = '__attribute__((optimize("O0")))'


@dataclass(frozen=True)
class ModelSources:
    model_h: str
    model_c: str
    model_data_c: str


def model_sources(graph: Graph, steps, emitted, plan: ArenaPlan, source: str) -> ModelSources:
    banner = cgen.BANNER.format(source=source)
    input_tensor, output_tensor = (graph.tensors[graph.inputs[0]],
                                   graph.tensors[graph.outputs[0]])
    model_h = (banner + "#ifndef MODEL_H\n#define MODEL_H\n\n#include <stdint.h>\n\n"
               f"#define MODEL_INPUT_BYTES {input_tensor.nbytes}u\n"
               f"#define MODEL_OUTPUT_BYTES {output_tensor.nbytes}u\n"
               f"#define MODEL_ARENA_BYTES {plan.size}u\n\n"
               "/* the input to fill, the output to read, one inference in between */\n"
               "void *model_input(void);\nconst void *model_output(void);\n"
               "/* -O0: a frame that does not grow with the number of kernel calls */\n"
               f"{INVOKE_ATTRIBUTE} void model_invoke(void);\n\n#endif\n")
    data = [banner, '#include <math.h>\n\n#include "nn_ops.h"\n\n']
    for item in emitted:
        data.extend(item.declarations)
    calls = [_call(graph, steps[i], emitted[i], plan, i) for i in range(len(steps))]
    externs = [f"{line}\n" for item in emitted for line in item.exports]
    model_c = (banner + '#include "model.h"\n#include "nn_ops.h"\n\n' + "".join(externs) +
               f"\n/* every activation and scratch buffer, placed by firmware_sim.fit.arena */"
               f"\nstatic int32_t arena[{max(plan.size // 4, 1)}];\n"
               "#define AT(offset) ((int8_t *)arena + (offset))\n\n"
               f"void *model_input(void) {{ return AT({plan.tensor_offsets[graph.inputs[0]]}); }}\n"
               f"const void *model_output(void) {{ return AT("
               f"{plan.tensor_offsets[graph.outputs[0]]}); }}\n\n"
               "void model_invoke(void) {\n" + "".join(calls) + "}\n")
    return ModelSources(model_h, model_c, "".join(data))


def _call(graph: Graph, step, item, plan: ArenaPlan, index: int) -> str:
    if not item.call:
        return f"  /* step {index}: {_opcodes(graph, step)} (no code: arena alias) */\n"
    inputs = [f"AT({plan.tensor_offsets[t]})" for t in step.inputs]
    text = item.call.format(inputs=inputs, output=f"AT({plan.tensor_offsets[step.output]})",
                            scratch=f"AT({plan.scratch_offsets.get(index, 0)})")
    return f"  /* step {index}: {_opcodes(graph, step)} */\n  {text}\n"


def _opcodes(graph: Graph, step) -> str:
    return " + ".join(graph.ops[i].opcode for i in step.ops)
