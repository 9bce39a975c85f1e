"""The static stack bound (firmware_sim/firmware/stack_usage.py) on hand-written .su, .ci and
disassembly: depths computed, recursion, unbounded frames and indirect calls refused."""
import pytest

from firmware_sim.firmware.errors import FirmwareError
from firmware_sim.firmware.stack_usage import (Frame, parse_ci, parse_disassembly, parse_su,
                                               stack_depth)

SU = ("model.c:20:6:model_invoke\t16\tstatic\n"
      "conv.c:10:6:nn_conv\t96\tstatic\n"
      "conv.c:40:13:requantize\t24\tdynamic,bounded\n"
      "softmax.c:5:6:nn_softmax\t40\tstatic\n")
CI = """graph: { title: "model.c"
node: { title: "model_invoke" label: "model_invoke\\nmodel.c:20:6\\n16 bytes (static)" }
node: { title: "nn_conv" label: "nn_conv\\n<built-in>" shape : ellipse }
edge: { sourcename: "model_invoke" targetname: "nn_conv" }
edge: { sourcename: "model_invoke" targetname: "nn_softmax" }
edge: { sourcename: "nn_conv" targetname: "conv.c:requantize" }
edge: { sourcename: "nn_softmax" targetname: "__aeabi_idiv" }
}
"""
# libgcc's division as objdump prints it: a push, a pre-indexed store, a call into an alias
DISASSEMBLY = """
firmware.elf:     file format elf32-littlearm

Disassembly of section .text:

00008740 <__udivsi3>:
    8740:\tpush\t{r4, r5, lr}
    8742:\tstr.w\tr6, [sp, #-8]!
    8746:\tsub\tsp, #16
    8748:\tbl\t8800 <__aeabi_idiv0>
    874c:\tb.n\t8740 <__udivsi3+0xc>
    874e:\tpop\t{r4, r5, pc}

00008800 <__aeabi_idiv0>:
    8800:\tvpush\t{d8-d9}
    8804:\tbx\tlr

00008900 <by_pointer>:
    8900:\tpush\t{r4, lr}
    8902:\tblx\tr3
"""
SYMBOLS = ("00008741 T __udivsi3\n00008741 T __aeabi_idiv\n00008801 T __aeabi_idiv0\n"
           "00008901 T by_pointer\n")


def frames() -> dict:
    calls = parse_ci(CI)
    return {name: Frame(size, frozenset(calls.get(name, ()))) for name, size in
            parse_su(SU).items()}


def test_depth_is_the_frame_plus_the_deepest_callee_library_ones_from_the_disassembly():
    library = parse_disassembly(DISASSEMBLY, SYMBOLS)
    # push 3 registers (12) + str.w writeback 8 + sub 16; its callee pushes 2 d registers
    assert library["__aeabi_idiv"] == Frame(36, frozenset({"__aeabi_idiv0"}))
    assert library["__aeabi_idiv0"] == Frame(16, frozenset())
    assert stack_depth("nn_softmax", frames(), library) == 40 + 36 + 16
    assert stack_depth("nn_conv", frames(), library) == 96 + 24  # a static function's call
    # model_invoke: 16 + max(nn_conv 120, nn_softmax 92)
    assert stack_depth("model_invoke", frames(), library) == 136


def test_a_call_the_linked_code_does_not_make_is_not_followed():
    # nn_softmax linked without its division (GCC's .ci still lists the libcall)
    linked = parse_disassembly(DISASSEMBLY + "\n00008a00 <nn_softmax>:\n    8a00:\tbx\tlr\n",
                               SYMBOLS + "00008a01 T nn_softmax\n")
    assert stack_depth("nn_softmax", frames(), linked) == 40
    del linked["__udivsi3"], linked["__aeabi_idiv"]  # and without it in the firmware at all
    assert stack_depth("nn_softmax", frames(), linked) == 40


def test_recursion_is_refused_naming_the_function():
    recursive = {**frames(), "requantize": Frame(24, frozenset({"nn_conv"}))}
    with pytest.raises(FirmwareError, match=r"nn_conv is recursive \(nn_conv -> requantize -> "
                                            r"nn_conv\)"):
        stack_depth("nn_conv", recursive, {})


def test_an_unbounded_dynamic_frame_is_refused_naming_the_function():
    with pytest.raises(FirmwareError, match="nn_pool has a dynamic frame"):
        parse_su("pool.c:3:6:nn_pool\t32\tdynamic\n")


def test_an_indirect_call_and_an_unknown_callee_are_refused():
    library = parse_disassembly(DISASSEMBLY, SYMBOLS)
    with pytest.raises(FirmwareError, match=r"by_pointer makes an indirect call \(blx\s+r3\)"):
        stack_depth("by_pointer", {}, library)
    with pytest.raises(FirmwareError, match="__aeabi_idiv .called by nn_softmax. is neither"):
        stack_depth("model_invoke", frames(), {})
