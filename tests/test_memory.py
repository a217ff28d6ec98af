"""dark._memory: glibc malloc tuning at import (on by default on Linux, off with
DARK_MALLOC_TUNING=0)."""
import subprocess
import sys

import pytest

import dark


def _tuned_in_subprocess(env_value):
    env = {"PATH": "/usr/bin:/bin"}
    if env_value is not None:
        env["DARK_MALLOC_TUNING"] = env_value
    out = subprocess.run([sys.executable, "-c", "import dark; print(dark._memory.tuned)"],
                         capture_output=True, text=True, env=env, check=True)
    return out.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc tuning is Linux-only")
def test_malloc_tuning_on_by_default_and_off_by_env():
    import ctypes

    if not hasattr(ctypes.CDLL(None), "mallopt"):
        pytest.skip("the C library has no mallopt (not glibc)")
    assert _tuned_in_subprocess(None) == "True"
    assert _tuned_in_subprocess("0") == "False"


def test_tune_malloc_is_idempotent():
    first = dark._memory.tune_malloc()
    assert dark._memory.tune_malloc() is first
