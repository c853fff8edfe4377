"""Which phones trust a Let's Encrypt certificate by themselves.

A phone whose own store lacks Let's Encrypt's root (ISRG Root X1) would meet a
certificate error after Enter, with no way past it on most phones; those stay on plain
HTTP. The versions come from Let's Encrypt's "Certificate Compatibility" page (ISRG
Root X1 natively trusted): Android 7.1.1 and later (older Androids relied on the
DST Root CA X3 cross-sign, expired in September 2024), iOS 10 and later, and Gecko 50
and later (KaiOS 2.x is Gecko 48; KaiOS 3 is Gecko 84). Anything not recognised is
assumed to be recent: desktop browsers and current phones all trust it.
"""

from __future__ import annotations

import re

ANDROID = re.compile(r"Android (\d+)(?:\.(\d+))?(?:\.(\d+))?")
IOS = re.compile(r"(?:iPhone|iPad|CPU) OS (\d+)[_.](\d+)")
KAIOS = re.compile(r"KAIOS/(\d+)", re.IGNORECASE)

MIN_ANDROID = (7, 1, 1)
MIN_IOS = (10, 0)
MIN_KAIOS = 3


def trusts_public_roots(user_agent: str | None) -> bool:
    """False for a phone known to lack ISRG Root X1; True otherwise."""
    ua = user_agent or ""
    if m := KAIOS.search(ua):
        return int(m.group(1)) >= MIN_KAIOS
    if m := ANDROID.search(ua):
        return tuple(int(x or 0) for x in m.groups()) >= MIN_ANDROID
    if m := IOS.search(ua):
        return (int(m.group(1)), int(m.group(2))) >= MIN_IOS
    return True
