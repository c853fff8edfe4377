"""Errors of the image builder and the fleet tools: each names what to do about it."""

from appliance.errors import EspaceError, UsageError


class ImageError(EspaceError):
    """The image cannot be built or flashed; ``fix`` says what to install, free or check."""

    exit_code = 2


class FlashRefused(UsageError):
    """The target device must not be written (system disk, mounted, not a disk)."""
