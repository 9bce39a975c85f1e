"""More Cortex-M cores, each bit-exact with the emulator (issue 13, item 5).

The micro:bit's Cortex-M0 (ARMv6-M: no DSP, no SSAT, no unaligned words; nRF51: 256 KB flash,
16 KB RAM), the AN505's Cortex-M33 (DSP, booted in the secure world) and the AN547's Cortex-M55
(Helium) run int8 LeNet-5 on MNIST test digits with every output byte equal to the emulator's.
LeNet-5 fits the micro:bit; a model that does not is refused before building, with the board's
real sizes. Each board links at its own memory map; device profiles name their core.
"""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from firmware_sim import firmware
from firmware_sim.fit.devices import DeviceProfileError, load_profile, shipped_profiles
from firmware_sim.fit.devices.profile import CORES, parse_profile
from firmware_sim.firmware import boards, qemu
from firmware_sim.firmware.errors import BoardTooSmallError
from lenet_edge.board.flash import flash
from tests.test_emulator_support import convert_int8, keras_and_tf
from tests.test_planner import zoo_int8_tflite

needs_toolchain = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in qemu.TOOLS),
    reason=f"the ARM toolchain and QEMU are missing: {qemu.APT_COMMAND}")

IMAGES = 100
NEW_BOARDS = ("microbit", "mps2-an505", "mps3-an547")


@pytest.fixture(scope="module")
def lenet5(tmp_path_factory):
    path = tmp_path_factory.mktemp("cores") / "lenet5.tflite"
    path.write_bytes(zoo_int8_tflite("lenet5"))
    return path


@pytest.fixture(scope="module")
def runs(lenet5, tmp_path_factory):
    """board -> (FlashReport, firmware folder) of LeNet-5 on IMAGES test digits."""
    if any(shutil.which(tool) is None for tool in qemu.TOOLS):
        pytest.skip(f"the ARM toolchain and QEMU are missing: {qemu.APT_COMMAND}")
    result = {}
    for name in NEW_BOARDS:
        folder = tmp_path_factory.mktemp(name)
        result[name] = flash(lenet5, board=name, images=IMAGES, workdir=folder), folder
    return result


@needs_toolchain
@pytest.mark.parametrize("name", NEW_BOARDS)
def test_lenet5_equals_the_emulator(runs, name):
    report, _ = runs[name]
    assert report.identical and report.mismatched_images == 0 and report.images == IMAGES
    assert report.board == name and report.core == boards.board(name).core
    assert 0 < report.instructions_per_inference < 10e6
    # the stack's static bound (stack_usage.py) holds on each core's run
    assert 0 < report.ram_stack_painted <= report.ram_stack


@needs_toolchain
@pytest.mark.parametrize("name", NEW_BOARDS)
def test_each_board_links_at_its_own_memory_map(runs, name):
    target = boards.board(name)
    _, folder = runs[name]
    assert f"ORIGIN = 0x{target.ram_origin:08X}, LENGTH = {target.ram_bytes}" in \
        (folder / "link.ld").read_text()
    text = (folder / "firmware.map").read_text()
    for section, origin in ((".isr_vector", target.flash_origin), (".data", target.ram_origin)):
        address = re.search(rf"^{re.escape(section)}\s+0x([0-9a-f]+)", text, re.M)
        assert address is not None and int(address.group(1), 16) == origin


@needs_toolchain
def test_lenet5_fits_the_microbit(runs):
    report, _ = runs["microbit"]
    target = boards.board("microbit")
    assert (target.flash_bytes, target.ram_bytes) == (256 * 1024, 16 * 1024)
    # the linker map: text + data in flash; data + bss + the stack region in RAM
    assert report.flash_total <= target.flash_bytes and report.ram_total <= target.ram_bytes
    assert report.ram_stack < target.stack_bytes


@needs_toolchain
def test_the_m0_is_slower_but_the_m55_is_not(runs):
    """ARMv6-M multiplies one product an instruction; the M33 runs the M4's SMLAD loops."""
    m0, m33, m55 = (runs[name][0].instructions_per_inference for name in NEW_BOARDS)
    assert m0 > 2 * m33 and m55 < 1.1 * m33


def _too_big(tmp_path, shape, units) -> Path:
    keras, _ = keras_and_tf()
    keras.utils.set_random_seed(0)
    layers = keras.layers
    model = keras.Sequential([layers.Input(shape), *units])
    path = tmp_path / "big.tflite"
    path.write_bytes(convert_int8(model, -1.0, 1.0))
    return path


@needs_toolchain
def test_too_much_flash_for_the_microbit_is_refused_before_building(tmp_path):
    layers = keras_and_tf()[0].layers
    path = _too_big(tmp_path, (32, 32, 1), [layers.Flatten(), layers.Dense(260)])
    with pytest.raises(BoardTooSmallError) as error:
        flash(path, board="microbit", images=1, workdir=tmp_path / "fw")
    message = str(error.value)
    assert "does not fit microbit" in message and "262,144 bytes of flash" in message
    assert "16,384 of RAM" in message and "\n" not in message
    assert not (tmp_path / "fw").exists()


@needs_toolchain
def test_too_much_ram_for_the_microbit_is_refused_before_building(tmp_path):
    layers = keras_and_tf()[0].layers
    path = _too_big(tmp_path, (32, 32, 1), [layers.Conv2D(16, 3), layers.Flatten(),
                                            layers.Dense(2)])
    with pytest.raises(BoardTooSmallError) as error:
        flash(path, board="microbit", images=1, workdir=tmp_path / "fw")
    message = str(error.value)
    assert "does not fit microbit" in message and "bytes of RAM" in message
    assert f"{boards.board('microbit').stack_bytes:,} stack" in message
    assert not (tmp_path / "fw").exists()
    # the same model fits the AN386's 4 MB (it is only refused for its size)
    assert "does not fit" not in _generate_error(path, "mps2-an386", tmp_path / "fw386")


def _generate_error(path, board, folder) -> str:
    from firmware_sim.emulator.model_file import load_model
    try:
        firmware.generate(load_model(path), folder, board)
    except BoardTooSmallError as error:
        return str(error)
    return ""


@needs_toolchain
@pytest.mark.parametrize("name,present,absent", [
    ("mps3-an547", ("vmladava.s8", "vctp.8"), ("ldmia",)),
    ("mps2-an505", ("smlad", "sxtb16"), ("vmladava",)),
    ("microbit", ("ldrsb", "muls"), ("smlad", "ssat", "vmladava"))])
def test_each_core_compiles_its_own_mac_loop(tmp_path, name, present, absent):
    """The patch conv's inner loop: Helium on the M55, SMLAD on the M33, LDRSB/MULS on the M0."""
    runtime = Path(firmware.__file__).parent / "runtime"
    target = boards.board(name)
    result = subprocess.run([shutil.which("arm-none-eabi-gcc"), *target.cflags, "-S", "-o", "-",
                             str(runtime / "conv_dense.c")], capture_output=True, text=True,
                            check=True)
    for mnemonic in present:
        assert mnemonic in result.stdout
    for mnemonic in absent:
        assert mnemonic not in result.stdout


def test_instructions_per_tick_follow_each_boards_systick_clock():
    # measured: 200,000 instructions at -icount shift=6 give 204,800 ticks on the micro:bit
    # (16 MHz), 256,000 on the AN505 (20 MHz), 320,000 on the MPS2 boards (25 MHz), 409,600 on
    # the AN547 (32 MHz)
    for name, hz in (("microbit", 16e6), ("mps2-an505", 20e6), ("mps2-an386", 25e6),
                     ("mps3-an547", 32e6)):
        assert qemu.instructions_per_tick(name) == pytest.approx(1e9 / hz / 64)


def test_profiles_name_their_core_and_each_core_has_a_board():
    assert set(CORES) == set(boards.BOARD_OF_CORE)
    expected = {"nrf52840": "mps2-an386", "stm32l4r5": "mps2-an386", "stm32f746": "mps2-an500",
                "samd21": "microbit", "rp2040": "microbit"}
    for name in shipped_profiles():
        profile = load_profile(name)
        if name == "dsp32c":
            assert profile.core is None  # not an Arm core
            continue
        assert boards.BOARD_OF_CORE[profile.core] == expected[name]
        assert boards.board(expected[name])  # a board that exists


def test_a_profile_with_an_unknown_core_is_refused():
    values = dict(name="x", flash_bytes=1, ram_bytes=1, clock_hz=1, macs_per_cycle=1.0,
                  core="cortex-a53")
    with pytest.raises(DeviceProfileError, match="field 'core' must be one of cortex-m0"):
        parse_profile(values, "x.toml")
    values["core"] = "cortex-m33"
    assert parse_profile(values).core == "cortex-m33"


@needs_toolchain
def test_normalization_on_the_microbit(lenet5, runs):
    """main_normalize.c and normalize.c on ARMv6-M: the board's int8 inputs and outputs equal
    the host's, and its classification count (flash_digits, 16 MHz SysTick) matches main.c's."""
    from lenet_edge.board.flash_normalize import flash_normalized

    report = flash_normalized(lenet5, "microbit", 30)
    assert report.inputs_identical and report.classification.identical
    plain = runs["microbit"][0].instructions_per_inference
    assert report.classify_instructions == pytest.approx(plain, rel=0.01)
