"""A service started by the launcher asks the kernel for its parent-death signal itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from claimstream.runtime.lifetime import PARENT_ENV, die_with_parent_env

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")

CHILD = """
import ctypes, os
from claimstream.runtime.lifetime import honour_parent_death
honour_parent_death()
sig = ctypes.c_int(0)
ctypes.CDLL(None).prctl(2, ctypes.byref(sig), 0, 0, 0)  # PR_GET_PDEATHSIG
print(sig.value, os.environ.get("CLAIMSTREAM_DIE_WITH_PARENT", "gone"))
"""


def test_a_child_started_with_the_variable_gets_the_signal_and_does_not_pass_it_on() -> None:
    env = {**os.environ, **die_with_parent_env(signal.SIGTERM)}
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str(int(signal.SIGTERM)), "gone"]


def test_a_child_whose_launcher_is_already_gone_exits_at_once() -> None:
    env = {**os.environ, PARENT_ENV: f"{os.getpid() + 999_999}:{int(signal.SIGTERM)}"}  # not its parent
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True)
    assert out.returncode == 1 and out.stdout == ""


def test_without_the_variable_nothing_changes() -> None:
    env = {k: v for k, v in os.environ.items() if k != PARENT_ENV}
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "gone"]
