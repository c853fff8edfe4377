"""The SMS package's errors: one base class, each with a fix for the technician."""

from appliance.errors import EspaceError


class SmsError(EspaceError):
    """Something about the modem or gammu-smsd that a technician can fix."""
