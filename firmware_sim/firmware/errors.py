"""Errors of code generation, building and running firmware. Each message is one line."""
from firmware_sim.errors import FirmwareSimError


class FirmwareError(FirmwareSimError):
    """The firmware could not be generated, built or run, or its run failed."""


class BoardTooSmallError(FirmwareError):
    """The model's weights or arena do not fit the board's flash or RAM."""


class ToolchainMissingError(FirmwareError):
    """arm-none-eabi-gcc or qemu-system-arm is not installed."""


class FirmwareTimeoutError(FirmwareError):
    """The emulated board did not finish in time (a hang, or far too many images)."""
