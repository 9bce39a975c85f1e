"""What an emitter returns for one step, and the collector of its const arrays."""
from dataclasses import dataclass, field

import numpy as np

from firmware_sim.firmware import cgen


@dataclass
class Emitted:
    """C text for model_data.c, the kernel call for model.c, and what the step costs."""

    declarations: list[str]
    call: str  # placeholders: {inputs[0]}, {inputs[1]}, {output}, {scratch}
    scratch_bytes: int = 0
    data_bytes: int = 0  # flash taken by this step's arrays and parameter struct
    notes: dict = field(default_factory=dict)  # e.g. the weight encoding chosen
    exports: list = field(default_factory=list)  # extern declarations model.c needs


class Arrays:
    """Const arrays of one step, named <prefix>_<field>, with their flash bytes counted."""

    def __init__(self, prefix: str):
        self.prefix = cgen.identifier(prefix)
        self.declarations: list[str] = []
        self.exports: list[str] = []
        self.nbytes = 0

    def add(self, name: str, values, dtype: str, exported: bool = False) -> str:
        """A const array; `exported` ones are for model.c to pass to a kernel directly."""
        values = np.asarray(values)
        full_name = cgen.identifier(f"{self.prefix}_{name}")
        self.declarations.append(cgen.array(full_name, values, dtype, exported))
        if exported:
            self.exports.append(f"extern const {cgen.c_type(dtype)} {full_name}[];")
        self.nbytes += max(values.size, 1) * np.dtype(dtype).itemsize
        return full_name

    def optional(self, name: str, values, dtype: str) -> str:
        """A pointer to a new array, or a null pointer when there are no values."""
        return "0" if values is None else self.add(name, values, dtype)

    def struct(self, type_name: str, fields: dict, name: str | None = None,
               exported: bool | None = None) -> str:
        """A parameter struct, under the prefix unless named, exported unless named (or told);
        about 4 bytes a field."""
        exported = name is None if exported is None else exported
        name = self.prefix if name is None else cgen.identifier(f"{self.prefix}_{name}")
        self.declarations.append(cgen.struct(type_name, name, fields, exported=exported))
        if exported:
            self.exports.append(f"extern const {type_name} {name};")
        self.nbytes += 4 * len(fields)
        return name

    def emitted(self, call: str, scratch_bytes: int = 0, notes: dict | None = None) -> Emitted:
        return Emitted(self.declarations, call, scratch_bytes, self.nbytes, notes or {},
                       self.exports)
