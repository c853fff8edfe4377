"""Every setting of a box's ``site.toml``, declared once.

Each :class:`Setting` carries its type, default, description, a good example and
the parser that checks it. ``espace config check``, ``espace config example``,
the app factory and the docs all read :data:`SETTINGS`, so a setting cannot be
used without being documented, nor documented without being checked.

A bad value gets an error that names the file, the key, what is wrong and an
example of a good value, e.g.::

    site.toml: hotspot.channel: 13 is not a usable channel; Mali has no entry in
    Linux's regulatory database, so only 2.4 GHz channels 1-11 are allowed
    (example: channel = 6)
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigError
from .languages import LANGUAGES

Parser = Callable[[Any], Any]


@dataclass(frozen=True)
class Setting:
    key: str  # dotted: "hotspot.ssid"
    kind: str  # what a person reads: "string", "integer 1-11", ...
    default: Any
    description: str
    example: Any
    parse: Parser = field(repr=False)

    @property
    def section(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split(".", 1)[1]


# --- parsers: each returns the clean value or raises ValueError(problem) -------------


def _type_name(value: Any) -> str:
    return {str: "text", int: "a number", float: "a decimal number", bool: "true/false",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)


def text(*, min_len: int = 0, max_bytes: int | None = None, pattern: str | None = None,
         pattern_help: str = "") -> Parser:
    regex = re.compile(pattern) if pattern else None

    def parse(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"must be text in quotes, not {_type_name(value)}")
        if len(value) < min_len:
            raise ValueError("must not be empty" if min_len == 1 else
                             f"must be at least {min_len} characters")
        if max_bytes is not None and len(value.encode()) > max_bytes:
            raise ValueError(f"is {len(value.encode())} bytes in UTF-8; at most "
                             f"{max_bytes} bytes are allowed")
        if regex and not regex.fullmatch(value):
            raise ValueError(f"{value!r} {pattern_help or 'has characters that are not allowed'}")
        return value

    return parse


def integer(lo: int, hi: int, *, why: str = "") -> Parser:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be a whole number, not {_type_name(value)}")
        if not lo <= value <= hi:
            raise ValueError(f"{value} is out of range {lo}-{hi}{why}")
        return value

    return parse


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false (no quotes), not {value!r}")
    return value


def choice(*allowed: str) -> Parser:
    def parse(value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(map(repr, allowed))}")
        return value

    return parse


def list_of(item: Parser, *, min_items: int = 0, unique: bool = True) -> Parser:
    def parse(value: Any) -> list:
        if not isinstance(value, list):
            raise ValueError(f"must be a list in square brackets, not {_type_name(value)}")
        if len(value) < min_items:
            raise ValueError(f"must list at least {min_items}")
        out = []
        for i, v in enumerate(value):
            try:
                out.append(item(v))
            except ValueError as e:
                raise ValueError(f"item {i + 1}: {e}") from None
        if unique and len(set(map(repr, out))) != len(out):
            raise ValueError("lists the same value twice")
        return out

    return parse


def ipv4_address(value: Any) -> str:
    try:
        return str(ipaddress.IPv4Address(text(min_len=1)(value)))
    except ipaddress.AddressValueError:
        raise ValueError(f"{value!r} is not an IPv4 address") from None


def ipv4_network(value: Any) -> str:
    try:
        net = ipaddress.IPv4Network(text(min_len=1)(value), strict=True)
    except ValueError as e:
        raise ValueError(f"{value!r} is not an IPv4 subnet ({e})") from None
    if net.prefixlen > 30:
        raise ValueError(f"{value!r} is too small for a hotspot: use /24 or larger")
    if not net.is_private:
        raise ValueError(f"{value!r} is not a private range (10/8, 172.16/12, 192.168/16)")
    return str(net)


def interface_name(value: Any) -> str:
    # Linux limits names to 15 bytes; anything outside this set could be a shell
    # or nftables injection once rendered into a config file.
    return text(min_len=1, pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]{0,14}",
                pattern_help="is not a network interface name (letters, digits, '_', "
                             "'.', '-'; at most 15)")(value)


def optional(parser: Parser) -> Parser:
    def parse(value: Any) -> Any:
        return "" if value == "" else parser(value)

    return parse


def passphrase(value: Any) -> str:
    value = text()(value)
    if value == "":
        return value
    if not 8 <= len(value) <= 63:
        raise ValueError(f"is {len(value)} characters; WPA2 needs 8 to 63 (or \"\" for an "
                         "open network)")
    if not all(32 <= ord(c) <= 126 for c in value):
        raise ValueError("must be printable ASCII for WPA2 (no accents or emoji)")
    return value


def url(value: Any) -> str:
    value = text()(value)
    if value == "":
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value.rstrip("/")


def time_window(value: Any) -> tuple[int, int]:
    m = re.fullmatch(r"([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)",
                     text(min_len=1)(value))
    if not m:
        raise ValueError(f"{value!r} is not a window like \"22:00-06:00\"")
    h1, m1, h2, m2 = map(int, m.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start > 24 * 60 or end > 24 * 60:
        raise ValueError(f"{value!r}: hours go up to 24:00")
    if start == end:
        raise ValueError(f"{value!r} is empty: start and end are equal")
    return (start, end)


def timezone(value: Any) -> str:
    try:
        ZoneInfo(text(min_len=1)(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not a known time zone") from None
    return value


def language(value: Any) -> str:
    if value not in LANGUAGES:
        raise ValueError(f"{value!r} is not a language Espace knows; known: "
                         f"{', '.join(LANGUAGES)}")
    return value


PIN_HASH = re.compile(r"(scrypt:\d+:\d+:\d+|pbkdf2:sha256:\d+)\$[^$]+\$[0-9a-f]{64,}")


def bbox(value: Any) -> list[float]:
    """[min_lon, min_lat, max_lon, max_lat] in degrees, or [] (no map)."""
    if value == []:
        return []
    if (not isinstance(value, list) or len(value) != 4
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
        raise ValueError("must be four numbers: [min_lon, min_lat, max_lon, max_lat]")
    w, s_, e, n = (float(v) for v in value)
    if not (-180 <= w < e <= 180 and -85 <= s_ < n <= 85):
        raise ValueError("needs west < east within -180..180 and south < north within -85..85")
    if (e - w) * (n - s_) > 4:
        raise ValueError("covers more than 4 square degrees: an offline map is for a commune "
                         "or a cercle, not a country")
    return [w, s_, e, n]


def _point(value: Any) -> list[float]:
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
        raise ValueError("must be two numbers: [latitude, longitude]")
    lat, lon = float(value[0]), float(value[1])
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError("latitude must be within -90..90 and longitude within -180..180")
    return [lat, lon]


def optional_point(value: Any) -> list[float]:
    return [] if value == [] else _point(value)


def village(value: Any) -> dict:
    if not isinstance(value, dict) or set(value) != {"name", "lat", "lon"}:
        raise ValueError('must be a table { name = "...", lat = 14.45, lon = -11.43 }')
    name = text(min_len=1, max_bytes=120)(value["name"])
    lat, lon = _point([value["lat"], value["lon"]])
    return {"name": name, "lat": lat, "lon": lon}


def facilitator(value: Any) -> dict:
    if not isinstance(value, dict):
        raise ValueError("each facilitator is a table: { name = \"...\", pin_hash = \"...\" }")
    unknown = set(value) - {"name", "pin_hash"}
    if unknown:
        raise ValueError(f"unknown field {sorted(unknown)[0]!r} (fields: name, pin_hash)")
    name = text(min_len=1, max_bytes=80)(value.get("name", ""))
    pin_hash = value.get("pin_hash", "")
    if not isinstance(pin_hash, str) or not PIN_HASH.fullmatch(pin_hash):
        raise ValueError(f"{name}: pin_hash is not a PIN hash; make one with "
                         "`espace config hash-pin` (never write the PIN itself)")
    return {"name": name, "pin_hash": pin_hash}


def theme(value: Any) -> dict:
    if not isinstance(value, dict) or set(value) - {"id", "icon", "label"} or "id" not in value:
        raise ValueError("each theme is a table: { id = \"water\", icon = \"water\" }")
    tid = text(pattern=r"[a-z][a-z0-9_]{0,30}", pattern_help="is not a theme id "
               "(lower-case letters, digits, '_')")(value["id"])
    return {"id": tid, "icon": text()(value.get("icon", tid)),
            "label": text(max_bytes=80)(value.get("label", ""))}


SLUG = r"[a-z0-9][a-z0-9-]{1,38}[a-z0-9]"

DEFAULT_THEMES = [{"id": t, "icon": t, "label": ""} for t in (
    "health", "sanitation", "water", "education", "youth", "womens_rights", "taxes", "land",
    "security", "other")]

SETTINGS: list[Setting] = [
    # site ---------------------------------------------------------------------------
    Setting("site.id", "slug", "", "Short unique id of this box, used by central and in the "
            "image name.", "nioro-du-sahel",
            text(min_len=1, pattern=SLUG, pattern_help="is not an id (3-40 lower-case "
                 "letters, digits and '-')")),
    Setting("site.name", "text", "", "Name of the space, shown on every page.",
            "Espace connecté de Nioro du Sahel", text(min_len=1, max_bytes=120)),
    Setting("site.communes", "list of text", [], "Communes this space serves.",
            ["Nioro", "Diaye Coura"], list_of(text(min_len=1, max_bytes=80), min_items=1)),
    Setting("site.languages", "list of language codes", ["fr", "bm", "snk"],
            "Languages offered to visitors, in the order shown. Known: "
            + ", ".join(LANGUAGES) + ".", ["fr", "bm", "snk"],
            list_of(language, min_items=1)),
    Setting("site.default_language", "language code", "fr",
            "Language of a visitor who has not chosen one.", "fr", language),
    Setting("site.timezone", "time zone", "Africa/Bamako", "Time zone the programme is shown "
            "in; times are stored in UTC.", "Africa/Bamako", timezone),
    # hotspot ------------------------------------------------------------------------
    Setting("hotspot.interface", "interface name", "wlan0", "Wi-Fi interface of the access "
            "point. The Pi's onboard radio serves only 4-10 phones: for more, name a USB "
            "adapter here (e.g. wlan1).", "wlan1", interface_name),
    Setting("hotspot.ssid", "text, 1-32 bytes", "Espace connecté", "Wi-Fi network name.",
            "Espace connecté Nioro", text(min_len=1, max_bytes=32)),
    Setting("hotspot.channel", "integer 1-11", 6, "2.4 GHz channel.", 6,
            integer(1, 11, why="; Mali has no entry in Linux's regulatory database, so only "
                    "2.4 GHz channels 1-11 are allowed")),
    Setting("hotspot.country", "ISO country code", "ML", "Country of the box, for the Wi-Fi "
            "regulatory domain.", "ML", text(pattern=r"[A-Z]{2}",
                                             pattern_help="is not a two-letter country code")),
    Setting("hotspot.address", "IPv4 address", "10.42.0.1", "Address of the box on the "
            "hotspot; every name resolves to it.", "10.42.0.1", ipv4_address),
    Setting("hotspot.subnet", "IPv4 subnet", "10.42.0.0/24", "Subnet of the hotspot; DHCP "
            "hands out its addresses.", "10.42.0.0/24", ipv4_network),
    Setting("hotspot.passphrase", "text, 8-63 characters or empty", "", "WPA2 passphrase; "
            "empty for an open network (the default: visitors need no password).", "",
            passphrase),
    Setting("hotspot.isolate_clients", "true/false", True, "Phones on the hotspot cannot "
            "reach each other.", True, boolean),
    Setting("hotspot.accept_hours", "integer 1-168", 24, "How long a phone stays accepted "
            "after tapping Enter.", 24, integer(1, 168)),
    Setting("hotspot.max_connections_per_phone", "integer 8-1000", 24, "Open TCP "
            "connections one phone may hold to the box (issue 13): more are refused at "
            "once, so one phone cannot take every worker of the web server.", 24,
            integer(8, 1000)),
    Setting("uplink.interface", "interface name or empty", "", "Interface with internet "
            "(Ethernet or a 3G dongle) to share with accepted visitors; empty for none.",
            "eth0", optional(interface_name)),
    Setting("uplink.subnet", "IPv4 subnet or empty", "", "Subnet of the uplink, if known, to "
            "check that it does not overlap the hotspot.", "192.168.8.0/24",
            optional(lambda v: str(ipaddress.IPv4Network(v, strict=False)))),
    Setting("uplink.client_daily_mb", "integer 0-10000", 50, "Data each accepted phone may "
            "use through the uplink per day, so that visitors never eat the sync's budget.",
            50, integer(0, 10000)),
    # Issue 24: the day's cap for all phones together, fresh quotas, queueing.
    Setting("uplink.phones_daily_mb", "integer 0-1000000", 1000, "Data all accepted "
            "phones together may use through the uplink per day (0: no cap on the total).",
            500, integer(0, 1_000_000)),
    Setting("uplink.new_phones_per_day", "integer 0-100000", 0, "How many phones a day "
            "get a fresh quota; a phone seen for the first time after that (often the same "
            "phone with a random MAC) gets the portal only until midnight. 0: every new "
            "MAC gets a quota (see docs/network.md for the trade-off).", 60,
            integer(0, 100_000)),
    Setting("uplink.down_kbit", "integer 0-10000000", 4000, "Download rate of the uplink "
            "in kbit/s, about 80% of what it really gives; the box queues traffic below "
            "it so that its own (sync, content) goes first. 0: no queueing.", 4000,
            integer(0, 10_000_000)),
    Setting("uplink.up_kbit", "integer 0-10000000", 1000, "Upload rate of the uplink in "
            "kbit/s, about 80% of what it really gives. 0: no queueing.", 1000,
            integer(0, 10_000_000)),
    Setting("uplink.box_share_percent", "integer 10-95", 90, "Share of the uplink kept for "
            "the box's own traffic when it needs it; phones may use all of it otherwise.",
            90, integer(10, 95)),
    # central and sync ---------------------------------------------------------------
    Setting("central.url", "URL or empty", "", "Central server of the region; empty for a "
            "box that never syncs online.", "https://central.kayes.example", url),
    Setting("central.enrolment_code", "text", "", "One-time code from central; the box "
            "enrols with it at first boot.", "K7Q2-9XWD",
            text(max_bytes=64, pattern=r"[A-Za-z0-9-]*", pattern_help="is not an enrolment "
                 "code (letters, digits, '-')")),
    Setting("central.ca_file", "path or empty", "", "CA certificate pinned for a central "
            "server without a public certificate.", "/etc/espace/central-ca.pem",
            text(max_bytes=4096)),
    Setting("sync.daily_budget_mb", "integer 0-100000", 20, "Megabytes the sync may spend "
            "per day; 0 stops online sync (USB export still works).", 20,
            integer(0, 100000)),
    Setting("sync.windows", "list of HH:MM-HH:MM", ["00:00-24:00"], "Times of day when "
            "online sync is allowed (night bundles are cheaper).",
            ["22:00-06:00", "12:00-14:00"], list_of(time_window, min_items=1)),
    Setting("sync.share_visitor_names", "true/false", False, "Send visitors' names and "
            "phone numbers to central; by default only counts leave the box.", False,
            boolean),
    # kiosk --------------------------------------------------------------------------
    Setting("secure_origin.https", "true/false", True, "After Enter, send visitors to "
            "https://<site>.<domain>/ while the box holds a valid certificate from central "
            "(the in-page recorder, location and offline web apps need it); false keeps "
            "every visitor on plain HTTP.", True, boolean),
    Setting("secure_origin.port", "integer 1-65535", 443, "Port of the TLS listener "
            "(nginx) on the hotspot address.", 443, integer(1, 65535)),
    Setting("kiosk.facilitators", "list of tables", [], "Facilitators who may log in to the "
            "touchscreen, each with a PIN hash from `espace config hash-pin`.",
            [{"name": "Awa", "pin_hash": "scrypt:32768:8:1$...$..."}],
            list_of(facilitator)),
    Setting("kiosk.idle_logout_seconds", "integer 30-3600", 300, "Log the facilitator out "
            "after this much idle time.", 300, integer(30, 3600)),
    Setting("kiosk.max_pin_attempts", "integer 3-20", 5, "Wrong PINs before the kiosk locks "
            "for a while.", 5, integer(3, 20)),
    Setting("kiosk.lockout_minutes", "integer 1-120", 5, "How long the kiosk stays locked "
            "after too many wrong PINs.", 5, integer(1, 120)),
    # N'Ko is not (yet) a visitor language of Espace (appliance.languages), so the
    # keyboard has its own switch; it is also offered if "nqo" ever is in site.languages.
    Setting("kiosk.keyboard_nko", "boolean", False, "Offer the N'Ko layout (ߒߞߏ: letters, "
            "digits, tone marks, typed right to left) on the kiosk's on-screen keyboard, for "
            "facilitators who write the Manding languages in N'Ko.", True, boolean),
    # programme ----------------------------------------------------------------------
    Setting("programme.bookings_per_phone", "integer 1-50", 4, "Seats (and places on a "
            "waiting list) one phone may hold in one session: enough for a family, not "
            "enough to empty a room.", 4, integer(1, 50)),
    # board --------------------------------------------------------------------------
    Setting("board.moderation", "before or after", "after", "Whether posts appear at once "
            "and are moderated after, or wait for a facilitator.", "before",
            choice("before", "after")),
    Setting("board.max_text_chars", "integer 100-20000", 2000, "Longest text of a post or "
            "answer.", 2000, integer(100, 20000)),
    Setting("board.max_voice_seconds", "integer 10-900", 180, "Longest voice note.", 180,
            integer(10, 900)),
    Setting("board.max_voice_bytes", "integer 10000-50000000", 3_000_000, "Largest voice "
            "note file.", 3_000_000, integer(10_000, 50_000_000)),
    Setting("board.posts_per_hour", "integer 1-1000", 10, "Posts one phone may send per "
            "hour.", 10, integer(1, 1000)),
    Setting("board.themes", "list of tables", DEFAULT_THEMES, "Themes of the board, each "
            "with an icon.", [{"id": "water", "icon": "water"}], list_of(theme, min_items=1)),
    # sms (issue 16): basic phones on the board and the programme, through gammu-smsd --
    Setting("sms.enabled", "true/false", False, "Take part by SMS through a USB GSM "
            "modem (gammu-smsd): questions become board posts, answers go back by SMS, "
            "sessions are booked by SMS.", True, boolean),
    Setting("sms.modem", "device path", "/dev/ttyUSB0", "The modem's serial port; a "
            "/dev/serial/by-id/... name survives replugging. With the dummy connection, "
            "a folder (Gammu's emulated phone, for tests).",
            "/dev/serial/by-id/usb-HUAWEI_Mobile-if00-port0",
            text(min_len=1, max_bytes=4096, pattern=r"/[A-Za-z0-9_./:+-]+",
                 pattern_help="is not an absolute device path (letters, digits, "
                 "'_./:+-')")),
    Setting("sms.connection", "at, at19200, at115200 or dummy", "at", "How Gammu talks "
            "to the modem: AT commands (at; at115200 for modems that need the speed), or "
            "dummy, Gammu's emulated phone in a folder (tests only).", "at",
            choice("at", "at19200", "at115200", "dummy")),
    Setting("sms.daily_budget_parts", "integer 0-10000", 100, "SMS parts the box may send "
            "per day (a Bambara letter halves a part: 70 characters instead of 160). "
            "Beyond it replies wait in the queue for the next day, never dropped; 0 sends "
            "nothing.", 100, integer(0, 10000)),
    Setting("sms.languages", "list of language codes", ["fr", "bm", "snk"], "Languages "
            "whose keywords the box understands by SMS (and answers in).",
            ["fr", "bm", "snk"], list_of(choice("fr", "bm", "snk"), min_items=1)),
    Setting("sms.transliterate", "true/false", True, "Send a text in GSM-7 letters "
            "(ɛ as e, ɔ as o, ɲ as ny, ŋ as ng, accents dropped) when that takes fewer "
            "parts; false keeps every letter as written.", True, boolean),
    Setting("sms.retention_days", "integer 1-365", 90, "Days a phone number is kept after "
            "its last message (and after its last booked session); then it is forgotten.",
            90, integer(1, 365)),
    Setting("sms.messages_per_hour", "integer 1-200", 12, "Messages one number may send "
            "per hour; beyond that the box ignores them and replies at most once an hour.",
            12, integer(1, 200)),
    Setting("sms.reply_parts_per_day", "integer 1-1000", 20, "SMS parts one number may "
            "receive in 24 hours in reply to what it sends (receipts, lists, refusals, "
            "help), so one phone cannot spend the day's budget; beyond it its messages are "
            "still handled, without a reply. Answers to its questions and reminders of its "
            "bookings always go.", 20, integer(1, 1000)),
    # map (issue 18): the commune's offline map and its directory ---------------------
    Setting("map.area", "[min_lon, min_lat, max_lon, max_lat] or empty", [], "The area the "
            "box's offline map covers (WGS84 degrees, west, south, east, north); points "
            "outside it are refused. Empty: no map.", [-11.46, 14.42, -11.40, 14.47], bbox),
    Setting("map.budget_mb", "integer 1-2000", 60, "Largest map file `espace map build` "
            "may make for the area; a bigger result is refused and the old map kept (lower "
            "map.max_zoom or shrink map.area).", 60, integer(1, 2000)),
    Setting("map.max_zoom", "integer 10-16", 15, "Most detailed zoom level of the offline "
            "map (15 shows buildings; each level more roughly quadruples the size).", 15,
            integer(10, 16)),
    Setting("map.box_location", "[lat, lon] or empty", [], "Where the box stands, shown on "
            "the map and used for distances when a phone gives none.", [14.445, -11.43],
            optional_point),
    Setting("map.villages", "list of tables {name, lat, lon}", [], "Villages and quarters "
            "of the area: the directory is listed by village, and a phone without GPS picks "
            "one to place a proposal.", [{"name": "Kayes N'Di", "lat": 14.455, "lon": -11.43}],
            list_of(village)),
    # storage ------------------------------------------------------------------------
    Setting("storage.data_dir", "path", "/var/lib/espace", "Where all state lives: the "
            "database, content, voice notes, sync state. Relative paths are relative to "
            "the site file.", "/var/lib/espace", text(min_len=1, max_bytes=4096)),
    Setting("storage.content_dir", "path", "content", "ZIM library, relative to the data "
            "directory unless absolute.", "content", text(min_len=1, max_bytes=4096)),
    Setting("storage.reserve_mb", "integer 50-100000", 200, "Free space always kept on the "
            "data partition so the database stays writable.", 200, integer(50, 100000)),
    Setting("storage.precompressed_mb", "integer 0-1000000", 4096, "Disk space the library "
            "may use for its text compressed once (pages are then served without "
            "decompressing the ZIM each time: several times faster); 0 turns it off.",
            4096, integer(0, 1_000_000)),
    # fleet (issue 7): who may log in over SSH; rewritten into the box at every boot.
    Setting("fleet.ssh_keys", "list of SSH public keys", [], "Technicians' SSH public keys "
            "(one line of ~/.ssh/id_ed25519.pub each); only these may log in to the box.",
            ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyOnlyDoNotUse technicien@kayes"],
            list_of(text(min_len=1, max_bytes=16384, pattern=r"(ssh-ed25519|ssh-rsa|ecdsa-sha2-"
                         r"nistp(256|384|521)|sk-ssh-ed25519@openssh\.com) [A-Za-z0-9+/]+=*"
                         r"( [^\n]*)?", pattern_help="is not an SSH public key line "
                         "(ssh-ed25519 AAAA... name)"))),
]

BY_KEY = {s.key: s for s in SETTINGS}
SECTIONS = list(dict.fromkeys(s.section for s in SETTINGS))
REQUIRED = {"site.id", "site.name", "site.communes"}


def _example_line(setting: Setting) -> str:
    return f"{setting.name} = {toml_value(setting.example)}"


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


def _cross_checks(values: dict[str, Any]) -> Iterable[tuple[str, str, str]]:
    """Rules between settings: (key, problem, example)."""
    if values["site.default_language"] not in values["site.languages"]:
        yield ("site.default_language",
               f"{values['site.default_language']!r} is not in site.languages",
               'default_language = "fr"')
    subnet = ipaddress.IPv4Network(values["hotspot.subnet"])
    address = ipaddress.IPv4Address(values["hotspot.address"])
    if address not in subnet or address in (subnet.network_address, subnet.broadcast_address):
        yield ("hotspot.address", f"{address} is not a host address inside hotspot.subnet "
               f"{subnet}", f'address = "{next(subnet.hosts())}"')
    if values["uplink.subnet"]:
        uplink = ipaddress.IPv4Network(values["uplink.subnet"])
        if uplink.overlaps(subnet):
            yield ("hotspot.subnet", f"{subnet} overlaps the uplink's subnet {uplink}; the "
                   "box could not route between them", 'subnet = "10.42.0.0/24"')
    if values["uplink.interface"] and values["uplink.interface"] == values["hotspot.interface"]:
        yield ("uplink.interface", "is the same interface as hotspot.interface",
               'interface = "eth0"')
    ids = [t["id"] for t in values["board.themes"]]
    if len(set(ids)) != len(ids):
        yield ("board.themes", "lists the same theme id twice", "themes = [{ id = \"water\" }]")


def validate(raw: dict[str, Any], path: str = "site.toml") -> SimpleNamespace:
    """Check a parsed TOML document; return the config or raise ConfigError with every
    problem found (not only the first), each naming file, key, problem and example."""
    problems: list[str] = []
    name = Path(path).name

    def problem(key: str, what: str, example: str) -> None:
        problems.append(f"{name}: {key}: {what} (example: {example})")

    values: dict[str, Any] = {}
    if not isinstance(raw, dict):
        raise ConfigError(path, [f"{name}: not a TOML table"])
    for section, body in raw.items():
        if section not in SECTIONS:
            near = difflib.get_close_matches(section, SECTIONS, n=1)
            problem(section, "unknown section" + (f"; did you mean [{near[0]}]?" if near else
                                                  f"; sections are {', '.join(SECTIONS)}"),
                    f"[{near[0] if near else SECTIONS[0]}]")
            continue
        if not isinstance(body, dict):
            problem(section, "must be a [section] table", f"[{section}]")
            continue
        for key in body:
            full = f"{section}.{key}"
            if full not in BY_KEY:
                known = [s.name for s in SETTINGS if s.section == section]
                near = difflib.get_close_matches(key, known, n=1)
                problem(full, "unknown setting" + (f"; did you mean {near[0]}?" if near else
                        f"; [{section}] has {', '.join(known)}"),
                        _example_line(BY_KEY[f"{section}.{near[0] if near else known[0]}"]))
    for setting in SETTINGS:
        body = raw.get(setting.section, {})
        present = isinstance(body, dict) and setting.name in body
        if not present:
            if setting.key in REQUIRED:
                problem(setting.key, f"is required ({setting.description})",
                        f"[{setting.section}] {_example_line(setting)}")
            else:
                values[setting.key] = setting.parse(setting.default)
            continue
        try:
            values[setting.key] = setting.parse(body[setting.name])
        except ValueError as e:
            problem(setting.key, str(e), _example_line(setting))
    if not problems:
        for key, what, example in _cross_checks(values):
            problem(key, what, example)
    if problems:
        raise ConfigError(path, problems)
    return _namespace(values, path)


def _namespace(values: dict[str, Any], path: str) -> SimpleNamespace:
    sections = {s: SimpleNamespace() for s in SECTIONS}
    for key, value in values.items():
        section, setting = key.split(".", 1)
        setattr(sections[section], setting, value)
    config = SimpleNamespace(path=path, values=values, **sections)
    base = Path(path).resolve().parent
    data_dir = Path(values["storage.data_dir"])
    config.data_dir = data_dir if data_dir.is_absolute() else base / data_dir
    content = Path(values["storage.content_dir"])
    config.content_dir = content if content.is_absolute() else config.data_dir / content
    return config


def load(path: str | Path) -> SimpleNamespace:
    """Read and check a site file; every failure is a ConfigError naming the file."""
    path = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(path, [f"{path}: no such file (create one with "
                                 "`espace config example > site.toml`)"]) from None
    except OSError as e:
        raise ConfigError(path, [f"{path}: cannot read: {e.strerror}"]) from None
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(path, [f"{Path(path).name}: byte {e.start} is not UTF-8; save the "
                                 "file as UTF-8"]) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(path, [f"{Path(path).name}: not valid TOML: {e} (strings need "
                                 "quotes: ssid = \"Espace\")"]) from None
    return validate(document, path)


def example() -> str:
    """A commented site.toml with every setting, its description and default."""
    lines = ["# Espace site configuration: one file per box.",
             "# Check it with: espace config check site.toml", ""]
    for section in SECTIONS:
        lines.append(f"[{section}]")
        for s in (s for s in SETTINGS if s.section == section):
            lines.append(f"# {s.description}")
            default = "required" if s.key in REQUIRED else toml_value(s.default)
            lines.append(f"# {s.kind}; default: {default}")
            if s.key in REQUIRED:
                lines.append(_example_line(s))
            elif s.default in ("", []) or s.key == "board.themes":
                lines.append(f"# {_example_line(s)}")
            else:
                lines.append(f"{s.name} = {toml_value(s.default)}")
        lines.append("")
    return "\n".join(lines)
