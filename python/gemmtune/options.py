"""Tuner options, read from the one table in the C++ code (src/core/option_table.cpp).

Every option has one name, used as Python keyword (``Tuner(budget_ms=5)``), C API key,
and, with dashes, CLI flag (``--budget-ms``); many also have a GEMMTUNE_* variable.
Precedence everywhere: the keyword (or flag), then the variable, then the default.
"""

import json
from dataclasses import dataclass

from . import _capi
from .errors import ConfigError


@dataclass(frozen=True)
class Option:
    name: str          # the keyword
    flag: str          # the CLI flag ("" when none)
    env: str           # the GEMMTUNE_* variable ("" when none)
    capi_key: str      # an older C API spelling also accepted ("" when none)
    value_name: str    # "" for a CLI switch
    switch_value: str  # what the CLI switch stands for
    expects: str       # what a valid value looks like
    default: str       # what applies when nothing sets it
    help: str
    process_wide: bool  # environment only (GEMMTUNE_LOG): not a tuner keyword


def _load():
    raw = json.loads(_capi.lib.gemmtune_option_table().decode())
    return tuple(Option(**{field: entry[field] for field in Option.__dataclass_fields__ if field != "default"},
                        default=entry["default"]) for entry in raw)


TABLE = _load()
_BY_NAME = {o.name: o for o in TABLE if not o.process_wide}


def names():
    """The keywords a Tuner takes, in the table's order."""
    return [o.name for o in TABLE if not o.process_wide]


def to_text(name, value):
    """A Python value as the option's text: True/False -> 1/0, a list -> "A,B"."""
    if name not in _BY_NAME:
        raise ConfigError(f"unknown option '{name}' (valid: {', '.join(names())})")
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple, set, frozenset)):
        text = ",".join(str(v) for v in value)
    elif isinstance(value, float):
        return repr(value)
    else:
        text = str(value)
    if "\0" in text:
        # The C API takes C strings: the value would end at the NUL, and a
        # shorter one (another folder, fewer backends) would be used.
        raise ConfigError(f"option {name}: {text!r} contains a NUL character")
    return text


def describe():
    """The table as readable text: keyword, flag, variable, default and help."""
    lines = []
    for o in TABLE:
        where = ", ".join(x for x in (o.flag, o.env) if x)
        lines.append(f"{o.name} ({where}): {o.help}; {o.expects}; default {o.default}")
    return "\n".join(lines)
