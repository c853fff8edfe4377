"""A safe shutdown from the kiosk: the facilitator confirms, the box powers off
through systemd (services stop cleanly, SQLite's WAL is checkpointed, the SD card is
unmounted) instead of someone pulling the plug.

Like the clock (:mod:`.clock`), the command is a fixed argv, never a shell string;
logind lets the ``espace`` user power off through the polkit rule in docs/kiosk.md.
Tests replace it with ``app.config["POWEROFF_COMMAND"]``."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence

POWEROFF = ("/usr/bin/systemctl", "poweroff")


class PowerError(Exception):
    """The shutdown was refused; the message says what to do."""


def power_off(
    command: Sequence[str] = POWEROFF,
    *,
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
) -> None:
    try:
        result = run(
            list(command),
            capture_output=True,
            text=True,  # noqa: S603
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise PowerError(
            f"the box could not be shut down ({e}): hold the power button, or ask the technician"
        ) from e
    if result.returncode != 0:
        detail = (result.stderr or result.stdout or "").strip().splitlines()[-1:] or [""]
        raise PowerError(
            f"the box refused to shut down ({detail[0][:200]}): check the "
            "polkit rule of docs/kiosk.md"
        )
