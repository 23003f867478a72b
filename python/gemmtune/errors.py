"""Exceptions mirroring the C++ ones (include/gemmtune/errors.h).

The C API hands every failure over as typed JSON (gemmtune_last_error_json);
from_json() turns it into the matching class here, structured parts included,
so a caller can read each backend's and each choice's stage and reason
instead of parsing a message.
"""

from dataclasses import dataclass


class Error(RuntimeError):
    """Every gemmtune failure. `status` is the C API's code (the CLI's exit code)."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


class ConfigError(Error, ValueError):
    """An option or GEMMTUNE_* variable is wrong: an unknown backend or option
    name (the message lists the valid ones), a malformed value."""


class InvalidProblemError(Error, ValueError):
    """The problem or the data of one call is not well formed; `field` names what
    ("b.row_stride", "alignment", "a.data")."""

    def __init__(self, message, status=2, field=""):
        super().__init__(message, status)
        self.field = field


class KernelRunError(Error):
    """The selected kernel failed while computing a call. gemmtune never hides
    this by calling another backend."""


class StoreError(Error):
    """The results database could not be opened, read or written."""


class StoreInputError(StoreError, ValueError):
    """A path or argument given to the store cannot be used as asked, and
    nothing was changed: a database path that is a folder or not a regular
    file, a file that is not a gemmtune database, a database that does not
    exist for an operation that only reads it. Status 2, the CLI's exit code
    for bad input; a plain StoreError (status 1) is the machine's fault (a
    full or failing disk, a database held by another process)."""

    def __init__(self, message, status=2):
        super().__init__(message, status)


class BackendUnavailableError(Error):
    """A backend was asked for something it cannot do on this machine."""


@dataclass(frozen=True)
class Rejection:
    """Why a backend (choice is None) or one of its choices dropped out."""

    backend: str
    choice: object  # str, or None for the whole backend
    stage: str      # availability, enumerate, build, verify, run, crash, timeout
    reason: str     # the catalogued code, e.g. unsupported_dtype
    message: str

    def __str__(self):
        who = self.backend if self.choice is None else f"{self.backend}/{self.choice}"
        return f"{who}: {self.stage}/{self.reason}: {self.message}"


def rejections(record):
    """Every rejection of a tuning record (the JSON form), backends first."""
    out = []
    for b in record.get("backends", []):
        r = b.get("rejection")
        if r:
            out.append(Rejection(b["backend"], None, r["stage"], r["reason"], r["message"]))
    for c in record.get("choices", []):
        r = c.get("rejection")
        if r:
            out.append(Rejection(c["backend"], c["name"], r["stage"], r["reason"], r["message"]))
    return out


class NoValidChoicesError(Error):
    """No enabled backend can serve the problem.

    `record` is the tuning record (problem, enabled set, every backend's and
    choice's outcome); `rejections` lists each backend's and each choice's
    stage and reason; `hints` names the disabled backends that would have
    offered choices: [{"backend": "ONEDNN", "choices_offered": 2}, ...].
    """

    def __init__(self, message, status=3, record=None, hints=None):
        super().__init__(message, status)
        self.record = record or {}
        self.hints = hints or []
        self.rejections = rejections(self.record)

    @property
    def enabled(self):
        return list(self.record.get("enabled", []))

    @property
    def problem(self):
        return self.record.get("problem", {})


_TYPES = {
    "ConfigError": ConfigError,
    "InvalidProblemError": InvalidProblemError,
    "NoValidChoicesError": NoValidChoicesError,
    "KernelRunError": KernelRunError,
    "StoreError": StoreError,
    "StoreInputError": StoreInputError,
    "BackendUnavailableError": BackendUnavailableError,
}


def from_json(typed):
    """The exception for one gemmtune_last_error_json() object."""
    cls = _TYPES.get(typed.get("type"), Error)
    message = typed.get("message", "")
    # A status the JSON leaves out is the type's own (2 for bad input).
    status = {"status": typed["status"]} if "status" in typed else {}
    if cls is InvalidProblemError:
        return cls(message, field=typed.get("field", ""), **status)
    if cls is NoValidChoicesError:
        return cls(message, record=typed.get("record"), hints=typed.get("hints"), **status)
    return cls(message, **status)
