"""Crash points for the SIGKILL tests (tests/sms/test_sms_crash.py): the process dies
here, as in a power cut, when ESPACE_CRASH_AT names the point. Never set in service."""

import os
import signal


def crash_point(name: str) -> None:
    if os.environ.get("ESPACE_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
