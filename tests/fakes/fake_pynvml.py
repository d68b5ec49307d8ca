"""FAKE pynvml: an explicit stand-in for NVML, which this machine cannot have.

It answers the handful of calls ``tfmatrix.gpu`` makes with recorded values, or
raises the error a machine without a driver raises.  Never used outside tests.
"""

from __future__ import annotations


class NVMLError(Exception):
    pass


class NVMLError_LibraryNotFound(NVMLError):  # noqa: N801 - NVML's own naming
    pass


class FakeNvml:
    def __init__(self, names: list[str] | None = None, init_error: Exception | None = None,
                 names_as_bytes: bool = False) -> None:
        self.names = names or []
        self.init_error = init_error
        self.names_as_bytes = names_as_bytes
        self.calls: list[str] = []

    def nvmlInit(self) -> None:  # noqa: N802
        self.calls.append("init")
        if self.init_error:
            raise self.init_error

    def nvmlShutdown(self) -> None:  # noqa: N802
        self.calls.append("shutdown")

    def nvmlSystemGetDriverVersion(self):  # noqa: N802
        return b"550.54.15" if self.names_as_bytes else "550.54.15"

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802
        return len(self.names)

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:  # noqa: N802
        return i

    def nvmlDeviceGetName(self, handle: int):  # noqa: N802
        name = self.names[handle]
        return name.encode() if self.names_as_bytes else name
