"""Device profiles (TOML files in this folder) and their loader."""
from firmware_sim.fit.devices.profile import (DeviceProfile, DeviceProfileError, load_profile,
                                              shipped_profiles)

__all__ = ["DeviceProfile", "DeviceProfileError", "load_profile", "shipped_profiles"]
