"""The errors of central's certificate service (ACME, DNS updates, CSRs)."""

from __future__ import annotations

from .service import CentralError


class CertificateError(CentralError):
    """A certificate could not be obtained or a request was malformed; ``fix`` says
    what the admin should do. The CLI prints both on one line."""

    def __init__(self, message: str, fix: str = "", status: int = 400) -> None:
        super().__init__(f"{message} (fix: {fix})" if fix else message, status)
        self.fix = fix


class DnsUpdateError(CertificateError):
    """The DNS server or provider refused or did not answer the update."""


class AcmeError(CertificateError):
    """The ACME server refused the order, or a challenge failed."""
