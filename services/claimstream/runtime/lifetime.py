"""A child process that dies with its launcher: the kernel's parent-death signal (Linux).

The launcher (`local/launcher.py`) starts each service with `CLAIMSTREAM_DIE_WITH_PARENT` in its
environment, naming the launcher's pid and the signal; the service's first act (`cli.main`)
is `honour_parent_death()`, which asks the kernel for that signal when the launcher's thread
ends, and exits at once if the launcher is already gone. The child does this itself, after
exec, rather than in a `preexec_fn`: code run between fork and exec in a process that has
gRPC's threads (a test session, the gateway) can abort in gRPC's fork handlers.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import sys
import threading
from collections.abc import Callable

PR_SET_PDEATHSIG = 1
PARENT_ENV = "CLAIMSTREAM_DIE_WITH_PARENT"


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's prctl, or None where there is none (not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


def die_with_parent_env(sig: int = signal.SIGTERM) -> dict[str, str]:
    """The environment entry that has a child started now die with this process: empty where the
    kernel cannot do it (not Linux) or from a thread other than the main one, since the signal
    follows the thread that forked and a child of a short-lived thread would die with the thread.
    The launcher's guardian covers those cases."""
    if _prctl() is None or threading.current_thread() is not threading.main_thread():
        return {}
    return {PARENT_ENV: f"{os.getpid()}:{int(sig)}"}


def honour_parent_death() -> None:
    """In a child started with `die_with_parent_env`: ask for the signal, or exit if the parent
    already died (nobody would send it). A no-op without the variable."""
    value = os.environ.pop(PARENT_ENV, "")
    if not value:
        return
    try:
        parent, sig = (int(part) for part in value.split(":"))
    except ValueError:
        return
    prctl = _prctl()
    if prctl is None:
        return
    prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)
