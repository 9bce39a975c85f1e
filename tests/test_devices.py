"""Device profiles: the shipped ones load with their documented figures; every defect in a user's
file is one DeviceProfileError line naming the file and the field."""
import pytest

from firmware_sim.errors import FirmwareSimError
from firmware_sim.fit.devices import DeviceProfileError, load_profile, shipped_profiles

MINIMAL = """name = "board"
flash_bytes = 1_048_576
ram_bytes = 262_144
clock_hz = 64_000_000
macs_per_cycle = 2.0
"""


def write(tmp_path, text, name="board.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_profiles():
    assert shipped_profiles() == ["dsp32c", "nrf52840", "rp2040", "samd21", "stm32f746",
                                  "stm32l4r5"]
    # LENET_FACTS, Hardware: clocks and memories
    expected = {"stm32f746": (216e6, 1 << 20, 320 << 10), "nrf52840": (64e6, 1 << 20, 256 << 10),
                "stm32l4r5": (120e6, 2 << 20, 640 << 10), "rp2040": (133e6, 2 << 20, 264 << 10),
                "samd21": (48e6, 256 << 10, 32 << 10), "dsp32c": (50e6, 256 << 10, 256 << 10)}
    for name, (clock, flash, ram) in expected.items():
        profile = load_profile(name)
        assert (profile.name, profile.clock_hz, profile.flash_bytes, profile.ram_bytes) == \
            (name, clock, flash, ram)
        assert 0 < profile.efficiency <= 1


def test_dsp32c_is_the_1989_board():
    dsp = load_profile("dsp32c")
    assert dsp.clock_hz * dsp.macs_per_cycle == 12.5e6  # peak multiply-adds per second
    assert dsp.weight_storage == "float32" and dsp.unified_memory
    # 30 digits/s of 64,660 connections on 12.5 M/s: about 16% of peak
    assert dsp.efficiency == pytest.approx(30 * 64_660 / 12.5e6, rel=0.01)


def test_minimal_user_profile_gets_defaults(tmp_path):
    profile = load_profile(write(tmp_path, MINIMAL))
    assert (profile.weight_storage, profile.efficiency, profile.runtime_flash_bytes,
            profile.runtime_ram_bytes, profile.unified_memory) == ("int8", 1.0, 0, 0, False)
    assert profile.macs_per_second == 128e6


def test_optional_fields(tmp_path):
    text = MINIMAL + ('weight_storage = "float32"\nefficiency = 0.5\nruntime_flash_bytes = 1000\n'
                      'runtime_ram_bytes = 0\nunified_memory = true\ndescription = "mine"\n')
    profile = load_profile(write(tmp_path, text))
    assert (profile.weight_storage, profile.macs_per_second, profile.runtime_flash_bytes) == \
        ("float32", 64e6, 1000)


def _without(field):
    return "".join(line + "\n" for line in MINIMAL.splitlines() if not line.startswith(field))


@pytest.mark.parametrize("text, fragments", [
    (_without("ram_bytes"), ["missing field 'ram_bytes'"]),
    (_without("macs_per_cycle"), ["missing field 'macs_per_cycle'"]),
    (MINIMAL + "flash_kb = 3\n", ["unknown field 'flash_kb'"]),
    (_without("ram_bytes") + 'ram_bytes = "256K"\n', ["'ram_bytes' must be an integer", "'256K'"]),
    (_without("flash_bytes") + "flash_bytes = 1.5e6\n", ["'flash_bytes' must be an integer"]),
    (_without("flash_bytes") + "flash_bytes = true\n", ["'flash_bytes' must be an integer"]),
    (_without("clock_hz") + "clock_hz = 0\n", ["'clock_hz' must be positive", "0"]),
    (_without("macs_per_cycle") + "macs_per_cycle = -2\n", ["'macs_per_cycle' must be positive"]),
    (_without("ram_bytes") + "ram_bytes = -1\n", ["'ram_bytes' must be positive"]),
    (_without("name") + "name = 3\n", ["'name' must be a string"]),
    (_without("name") + 'name = ""\n', ["'name' must be non-empty"]),
    (MINIMAL + "efficiency = 1.5\n", ["'efficiency' must be in (0, 1]"]),
    (MINIMAL + "efficiency = 0\n", ["'efficiency' must be in (0, 1]"]),
    (MINIMAL + "runtime_ram_bytes = -4\n", ["'runtime_ram_bytes' must be zero or positive"]),
    (MINIMAL + 'weight_storage = "int4"\n', ["'weight_storage' must be one of int8, float32"]),
    (MINIMAL + 'unified_memory = "yes"\n', ["'unified_memory' must be true or false"]),
    (MINIMAL + "ram_bytes = 5\n", ["not valid TOML"]),  # a key given twice
    ("name = \n", ["not valid TOML"]),
])
def test_bad_profiles_are_one_line_errors(tmp_path, text, fragments):
    path = write(tmp_path, text)
    with pytest.raises(DeviceProfileError) as caught:
        load_profile(path)
    message = str(caught.value)
    assert isinstance(caught.value, FirmwareSimError) and "\n" not in message
    assert message.startswith(str(path))
    for fragment in fragments:
        assert fragment in message


def test_unknown_device_and_missing_file(tmp_path):
    with pytest.raises(DeviceProfileError, match="unknown device 'esp32'.*nrf52840"):
        load_profile("esp32")
    with pytest.raises(DeviceProfileError, match="nothere.toml: cannot read device profile"):
        load_profile(tmp_path / "nothere.toml")
