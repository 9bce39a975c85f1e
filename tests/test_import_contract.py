"""firmware_sim's import contract: numpy, the flatbuffer schema module and the standard library.

Each check runs in a fresh interpreter (a subprocess), so what the test session has imported
does not count. Every module under firmware_sim is imported; afterwards none of the toolkit's
upper layers or heavy libraries may be loaded, and no third-party package beyond numpy,
flatbuffers and ai_edge_litert (for its schema_py_generated). Inside firmware_sim the layers
import one way: emulator <- fit <- firmware.
"""
import json
import subprocess
import sys

FORBIDDEN = ("lenet_edge", "convert", "tensorflow", "tf_keras", "rich", "urllib", "typer",
             "matplotlib", "PIL", "tflite_micro")
ALLOWED_THIRD_PARTY = {"numpy", "flatbuffers", "ai_edge_litert", "firmware_sim"}

# Prints, per module of firmware_sim, what importing it added to sys.modules. One subprocess per
# module would take minutes on a busy machine, so after each import the firmware_sim modules it
# loaded are dropped again (third-party modules stay: numpy cannot be imported twice, and the
# first module to load one records it).
_WALK = r"""
import importlib, json, pkgutil, sys
start = set(sys.modules)
import firmware_sim
names = sorted(m.name for m in pkgutil.walk_packages(firmware_sim.__path__, "firmware_sim."))
def drop():
    for name in [n for n in sys.modules if n.startswith("firmware_sim.")]:
        del sys.modules[name]
added = {"firmware_sim": sorted(set(sys.modules) - start)}
drop()
for name in names:
    before = set(sys.modules)
    importlib.import_module(name)
    added[name] = sorted(set(sys.modules) - before)
    drop()
print(json.dumps({"start": sorted(start), "added": added}))
"""


def _python(code: str) -> str:
    """The last line `code` prints in a fresh interpreter."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    return result.stdout.strip().splitlines()[-1]


def _walk() -> tuple[set[str], dict[str, list[str]]]:
    report = json.loads(_python(_WALK))
    return set(report["start"]), report["added"]


def _loaded(names, package: str) -> list[str]:
    return sorted(n for n in names if n == package or n.startswith(package + "."))


def test_every_firmware_sim_module_imports_only_numpy_flatbuffers_and_the_schema():
    start, added = _walk()
    assert len(added) > 40  # the walk found the subpackages' modules
    everything = set(start).union(*map(set, added.values()))
    # pathlib imports urllib.parse at start-up; the downloader's urllib.request must stay out
    forbidden = [n for package in FORBIDDEN for n in _loaded(everything, package)
                 if n not in start]
    assert forbidden == []
    third_party = {n.split(".")[0] for n in everything - start} - set(sys.stdlib_module_names)
    assert third_party <= ALLOWED_THIRD_PARTY


def test_the_layers_import_one_way():
    _, added = _walk()
    for name, modules in added.items():
        if name.startswith("firmware_sim.emulator."):
            assert _loaded(modules, "firmware_sim.fit") == [], name
            assert _loaded(modules, "firmware_sim.firmware") == [], name
        if name.startswith("firmware_sim.fit."):
            assert _loaded(modules, "firmware_sim.firmware") == [], name
        if name.startswith("firmware_sim.emulator.kernels."):  # the reference arithmetic
            for speed_module in ("speed", "tables", "output_table"):
                assert _loaded(modules, f"firmware_sim.emulator.{speed_module}") == [], name


def test_the_package_surface_is_the_emulator_alone():
    code = ("import sys, firmware_sim; "
            "print([m for m in sys.modules if m.startswith(('firmware_sim.fit', "
            "'firmware_sim.firmware'))]); "
            "firmware_sim.load_model, firmware_sim.run, firmware_sim.Interpreter, "
            "firmware_sim.layer_costs, firmware_sim.FirmwareSimError")
    assert _python(code) == "[]"


def test_the_board_entry_points_import_neither_tensorflow_nor_tflite_micro():
    code = ("import sys, lenet_edge.board.flash, lenet_edge.board.flash_normalize, "
            "lenet_edge.board.simulate, lenet_edge.board.raw_digits, lenet_edge.read.normalize; "
            "print('tensorflow' in sys.modules or 'tflite_micro' in sys.modules)")
    assert _python(code) == "False"


def test_every_firmware_sim_error_derives_from_its_own_base():
    from firmware_sim.errors import FirmwareSimError
    from firmware_sim.firmware.errors import FirmwareError
    from firmware_sim.fit.devices import DeviceProfileError
    from lenet_edge.errors import LenetEdgeError
    import firmware_sim.errors as errors

    classes = [c for c in vars(errors).values() if isinstance(c, type) and
               issubclass(c, Exception)] + [FirmwareError, DeviceProfileError]
    assert all(issubclass(c, FirmwareSimError) for c in classes)
    assert not any(issubclass(c, LenetEdgeError) for c in classes)
