"""How a child process ended, in words: POSIX signals and Windows NTSTATUS codes.

On POSIX, ``subprocess`` reports death by signal N as return code ``-N``.  On
Windows a crashed process exits with its NTSTATUS code: 0xC0000005 is
3221225477 unsigned, or -1073741819 when read as a signed 32-bit integer (as
many tools print it); both decode here.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

#: NTSTATUS codes a crashing Windows process exits with.
NTSTATUS: dict[int, tuple[str, str]] = {
    0xC0000005: ("STATUS_ACCESS_VIOLATION", "access violation (read or write of an invalid address)"),
    0xC0000409: ("STATUS_STACK_BUFFER_OVERRUN", "fail-fast exception (abort(), a failed security check)"),
    0xC000001D: ("STATUS_ILLEGAL_INSTRUCTION", "illegal instruction (e.g. AVX on a CPU without it)"),
    0xC0000374: ("STATUS_HEAP_CORRUPTION", "heap corruption"),
    0xC00000FD: ("STATUS_STACK_OVERFLOW", "stack overflow"),
    0xC0000094: ("STATUS_INTEGER_DIVIDE_BY_ZERO", "integer division by zero"),
    0xC0000017: ("STATUS_NO_MEMORY", "out of memory"),
    0xC0000135: ("STATUS_DLL_NOT_FOUND", "a DLL the program needs was not found"),
    0xC0000139: ("STATUS_ENTRYPOINT_NOT_FOUND", "a DLL lacks an entry point the program needs (version mismatch)"),
    0xC000013A: ("STATUS_CONTROL_C_EXIT", "ended by Ctrl-C"),
}

#: POSIX signals, named even where this platform's ``signal`` module lacks them.
POSIX_SIGNALS: dict[int, str] = {1: "SIGHUP", 2: "SIGINT", 4: "SIGILL", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE",
                                 9: "SIGKILL", 11: "SIGSEGV", 13: "SIGPIPE", 15: "SIGTERM"}


@dataclass(frozen=True)
class ExitInfo:
    returncode: int | None
    signal: str | None = None     # e.g. "SIGSEGV"
    ntstatus: str | None = None   # e.g. "STATUS_ACCESS_VIOLATION"
    hex: str | None = None        # e.g. "0xC0000005"
    text: str = ""

    def to_json(self) -> dict[str, object]:
        return {"returncode": self.returncode, "signal": self.signal, "ntstatus": self.ntstatus,
                "hex": self.hex, "text": self.text}


def signal_name(num: int) -> str:
    try:
        return signal.Signals(num).name
    except ValueError:
        return POSIX_SIGNALS.get(num, f"SIG{num}")


def describe_exit(returncode: int | None, windows: bool | None = None) -> ExitInfo:
    """Decode a return code; ``windows`` defaults to this platform."""
    if returncode is None:
        return ExitInfo(None, text="did not exit")
    windows = (os.name == "nt") if windows is None else windows
    unsigned = returncode & 0xFFFFFFFF
    if unsigned in NTSTATUS and (windows or returncode < -255 or returncode > 255):
        name, words = NTSTATUS[unsigned]
        return ExitInfo(returncode, ntstatus=name, hex=f"0x{unsigned:08X}",
                        text=f"exit code {returncode} = 0x{unsigned:08X} {name}: {words}")
    if not windows and returncode < 0:
        name = signal_name(-returncode)
        return ExitInfo(returncode, signal=name, text=f"ended by signal {name}")
    return ExitInfo(returncode, text=f"exit status {returncode}")
