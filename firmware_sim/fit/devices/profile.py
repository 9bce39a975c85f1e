"""Device profiles: TOML files giving a target's memory and arithmetic budget.

A minimal profile:

    name = "my-board"
    flash_bytes = 1_048_576
    ram_bytes = 262_144
    clock_hz = 64_000_000
    macs_per_cycle = 2.0        # peak multiply-adds per clock cycle

Optional fields: `weight_storage` ("int8", or "float32" for a float DSP), `efficiency` (the
fraction of the peak MAC rate the kernels reach, in (0, 1], default 1), `runtime_flash_bytes`
and `runtime_ram_bytes` (the runtime's fixed code and RAM outside the tensor arena, default 0),
`unified_memory` (true when flash and RAM are one memory: their needs add up against ram_bytes),
`core` (the CPU core, one of CORES: the firmware is built and run for the QEMU board of that
core, firmware/boards.py BOARD_OF_CORE, and `check`'s firmware runtime takes the cost model's
coefficients of that core, fit/cores/<core>.toml; absent for a non-ARM target), `description`. The shipped profiles (`shipped_profiles()`) document where each number comes from.
"""
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from firmware_sim.errors import FirmwareSimError

DEVICES_DIR = Path(__file__).parent
WEIGHT_STORAGE = ("int8", "float32")
# The Arm Cortex-M cores a profile may name (GCC's -mcpu names)
CORES = ("cortex-m0", "cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33",
         "cortex-m55")


class DeviceProfileError(FirmwareSimError):
    """A device profile that is missing, not TOML, or has a missing, unknown or invalid field."""


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    flash_bytes: int
    ram_bytes: int
    clock_hz: float
    macs_per_cycle: float
    weight_storage: str = "int8"
    efficiency: float = 1.0
    runtime_flash_bytes: int = 0
    runtime_ram_bytes: int = 0
    unified_memory: bool = False
    core: str | None = None
    description: str = ""

    @property
    def macs_per_second(self) -> float:
        """The multiply-add rate the kernels achieve: clock * peak MACs/cycle * efficiency."""
        return self.clock_hz * self.macs_per_cycle * self.efficiency


REQUIRED = ("name", "flash_bytes", "ram_bytes", "clock_hz", "macs_per_cycle")
# field -> (accepted Python types, what the error message calls it, check, what the check means)
_RULES = {
    "name": (str, "a string", lambda v: bool(v.strip()), "non-empty"),
    "description": (str, "a string", lambda v: True, ""),
    "flash_bytes": (int, "an integer", lambda v: v > 0, "positive"),
    "ram_bytes": (int, "an integer", lambda v: v > 0, "positive"),
    "clock_hz": ((int, float), "a number", lambda v: v > 0, "positive"),
    "macs_per_cycle": ((int, float), "a number", lambda v: v > 0, "positive"),
    "efficiency": ((int, float), "a number", lambda v: 0 < v <= 1, "in (0, 1]"),
    "runtime_flash_bytes": (int, "an integer", lambda v: v >= 0, "zero or positive"),
    "runtime_ram_bytes": (int, "an integer", lambda v: v >= 0, "zero or positive"),
    "weight_storage": (str, "a string", lambda v: v in WEIGHT_STORAGE,
                       f"one of {', '.join(WEIGHT_STORAGE)}"),
    "unified_memory": (bool, "true or false", lambda v: True, ""),
    "core": (str, "a string", lambda v: v in CORES, f"one of {', '.join(CORES)}"),
}


def shipped_profiles() -> list[str]:
    return sorted(path.stem for path in DEVICES_DIR.glob("*.toml"))


def load_profile(device: str | Path) -> DeviceProfile:
    """A shipped profile by name (`nrf52840`), or any profile file by path (`board.toml`)."""
    path = Path(device)
    if path.suffix != ".toml" and not path.exists():
        if str(device) not in shipped_profiles():
            raise DeviceProfileError(f"unknown device {str(device)!r}: give a .toml path or one "
                                     f"of {', '.join(shipped_profiles())}")
        path = DEVICES_DIR / f"{device}.toml"
    return parse_profile(_read_toml(path), str(path))


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as file:
            return tomllib.load(file)
    except OSError as error:
        raise DeviceProfileError(f"{path}: cannot read device profile "
                                 f"({error.strerror or error})") from None
    except tomllib.TOMLDecodeError as error:
        raise DeviceProfileError(f"{path}: not valid TOML ({error})") from None


def parse_profile(values: dict, source: str = "<profile>") -> DeviceProfile:
    """Validate a profile's fields; any problem is one DeviceProfileError naming source and field."""
    for key in REQUIRED:
        if key not in values:
            raise DeviceProfileError(f"{source}: missing field {key!r}")
    for key, value in values.items():
        _check_field(source, key, value)
    known = {f.name for f in fields(DeviceProfile)}
    return DeviceProfile(**{k: v for k, v in values.items() if k in known})


def _check_field(source: str, key: str, value) -> None:
    if key not in _RULES:
        raise DeviceProfileError(f"{source}: unknown field {key!r} (known: "
                                 f"{', '.join(_RULES)})")
    types, type_name, valid, meaning = _RULES[key]
    # bool is an int in Python; `flash_bytes = true` is a mistake, not 1 byte
    if not isinstance(value, types) or (isinstance(value, bool) and types is not bool):
        raise DeviceProfileError(f"{source}: field {key!r} must be {type_name}, "
                                 f"got {type(value).__name__} {value!r}")
    if not valid(value):
        raise DeviceProfileError(f"{source}: field {key!r} must be {meaning}, got {value!r}")
