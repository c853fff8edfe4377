"""The directory of organisations and public services: its models and rules.

A citizen proposes a new entry or a correction (``propose``); a facilitator publishes,
rejects or merges it at the kiosk (``publish``, ``reject``, ``merge``). Publishing
writes ``map_place`` and appends ``place.saved`` to the outbox in the same transaction;
central shares it with the region's other boxes as ``place.shared`` (``receive_shared``).
Text is checked as the board checks it (NFC, no control characters, bounded), and markup
is refused outright: a directory entry is printed on every box of the region and in
central's exports, so ``<script>`` is an error for the person typing, not a thing to
escape in five places.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import math
import re
import unicodedata
import uuid as uuidlib
from dataclasses import dataclass

import peewee
from flask_babel import lazy_gettext as _l

from appliance import outbox
from appliance.db import database
from appliance.errors import EspaceError
from appliance.models import BaseModel
from sync_contract import kinds

# kind id -> (label, icon). The icon is a glyph every phone font has (KaiOS included);
# the label is always printed beside it.
KINDS: dict[str, tuple[object, str]] = {
    "women_association": (_l("Women's association"), "♀"),
    "youth_group": (_l("Youth group"), "★"),
    "cooperative": (_l("Cooperative"), "⚘"),
    "health_centre": (_l("Health centre"), "✚"),
    "school": (_l("School"), "✎"),
    "town_hall": (_l("Town hall"), "⌂"),
    "espace_connecte": (_l("Espace connecté"), "◉"),
    "association": (_l("Other association"), "●"),
    "public_service": (_l("Other public service"), "■"),
}
# Languages an organisation may say it works in (codes as the box names them).
LANGUAGES = ("fr", "bm", "snk", "ff", "ar", "en")
NAME_MAX, CONTACT_MAX, ACTIVITIES_MAX, VILLAGE_MAX = 120, 120, 600, 120
MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z!?]|javascript\s*:|&#|\bon[a-z]+\s*=", re.I)
# Same organisation: the same name (accents, case and punctuation aside) within this
# distance, or a close name (difflib ratio) nearer still.
SAME_NAME_M, CLOSE_NAME_M, CLOSE_RATIO = 3000, 500, 0.85
PROPOSALS_PER_HOUR = 5


class DirectoryError(EspaceError):
    """A proposal the directory refuses; ``field`` names the form field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class Place(BaseModel):
    uuid = peewee.CharField(unique=True)
    name = peewee.TextField()
    name_key = peewee.TextField()
    kind = peewee.CharField()
    village = peewee.TextField(default="")
    lat = peewee.FloatField()
    lon = peewee.FloatField()
    contact = peewee.TextField(default="")
    activities = peewee.TextField(default="")
    languages = peewee.TextField(default="")
    led_by_women = peewee.BooleanField(default=False)
    led_by_youth = peewee.BooleanField(default=False)
    origin = peewee.CharField(default="")  # "" this box's; else the site that published it
    removed = peewee.BooleanField(default=False)
    updated_at = peewee.CharField()

    class Meta:
        table_name = "map_place"

    @property
    def language_list(self) -> list[str]:
        return [c for c in self.languages.split(",") if c]


class Proposal(BaseModel):
    uuid = peewee.CharField(unique=True)
    place_uuid = peewee.CharField(default="")  # a correction of this place; "" a new one
    name = peewee.TextField()
    kind = peewee.CharField()
    village = peewee.TextField(default="")
    lat = peewee.FloatField()
    lon = peewee.FloatField()
    contact = peewee.TextField(default="")
    activities = peewee.TextField(default="")
    languages = peewee.TextField(default="")
    led_by_women = peewee.BooleanField(default=False)
    led_by_youth = peewee.BooleanField(default=False)
    client_hash = peewee.CharField(default="")
    status = peewee.CharField(default="pending")
    decided_by = peewee.CharField(default="")
    created_at = peewee.CharField()
    decided_at = peewee.CharField(default="")

    class Meta:
        table_name = "map_proposal"

    @property
    def language_list(self) -> list[str]:
        return [c for c in self.languages.split(",") if c]


FIELDS = (
    "name",
    "kind",
    "village",
    "lat",
    "lon",
    "contact",
    "activities",
    "languages",
    "led_by_women",
    "led_by_youth",
)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def name_key(name: str) -> str:
    """A name as compared for duplicates: no accents, case or punctuation."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[\W_]+", " ", kept).split())


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371008.8 * math.asin(math.sqrt(min(1.0, a)))


def _text(
    form: dict, field: str, max_chars: int, required: bool = False, multiline: bool = False
) -> str:
    value = form.get(field) or ""
    if not isinstance(value, str):
        raise DirectoryError(field, "must be text")
    if len(value) > max_chars * 4:
        raise DirectoryError(field, f"is {len(value)} characters; at most {max_chars}")
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    for ch in text:
        if ch == "\ufffd":
            raise DirectoryError(field, "is not valid UTF-8 text")
        if ch == "\n" and multiline or ch == "\t":
            continue
        if unicodedata.category(ch) in ("Cc", "Cs", "Co") or ch in "\u2028\u2029":
            raise DirectoryError(field, "has control characters")
    text = unicodedata.normalize("NFC", text).strip()
    if not multiline:
        text = " ".join(text.split())
    if MARKUP.search(text):
        raise DirectoryError(
            field, "looks like code or markup (< >, javascript:); write plain words"
        )
    if len(text) > max_chars:
        raise DirectoryError(field, f"is {len(text)} characters; at most {max_chars}")
    if required and len(text) < 2:
        raise DirectoryError(field, "is required")
    return text


def _coordinate(form: dict, field: str, lo: float, hi: float) -> float | None:
    raw = form.get(field)
    if raw in (None, ""):
        return None
    try:
        value = float(str(raw).strip().replace(",", "."))
    except ValueError:
        raise DirectoryError(field, "is not a number") from None
    if not math.isfinite(value) or not lo <= value <= hi:
        raise DirectoryError(field, f"must be between {lo} and {hi}")
    return value


def _flag(value) -> bool:
    return value in (True, "1", "on", "yes", "true")


def clean(form, site) -> dict:
    """The proposal's fields from a form (or a dict), checked; DirectoryError names the
    first bad field. The point is the tapped one, else the chosen village's."""
    area = list(site.map.area)
    if not area:
        raise DirectoryError("lat", "this box has no map area (map.area in the site file)")
    get = form.getlist if hasattr(form, "getlist") else (lambda k: form.get(k) or [])
    out = {
        "name": _text(form, "name", NAME_MAX, required=True),
        "village": _text(form, "village", VILLAGE_MAX),
        "contact": _text(form, "contact", CONTACT_MAX),
        "activities": _text(form, "activities", ACTIVITIES_MAX, multiline=True),
        "led_by_women": _flag(form.get("led_by_women")),
        "led_by_youth": _flag(form.get("led_by_youth")),
    }
    kind = form.get("kind") or ""
    if kind not in KINDS:
        raise DirectoryError("kind", "choose a kind from the list")
    out["kind"] = kind
    langs = [c for c in get("languages") if c in LANGUAGES]
    if len(langs) != len(get("languages")):
        raise DirectoryError("languages", "choose languages from the list")
    out["languages"] = ",".join(dict.fromkeys(langs))
    lat = _coordinate(form, "lat", -90, 90)
    lon = _coordinate(form, "lon", -180, 180)
    if (lat is None) != (lon is None):
        raise DirectoryError("lat", "give both latitude and longitude, or neither")
    if lat is None:
        village = next((v for v in site.map.villages if v["name"] == out["village"]), None)
        if village is None:
            raise DirectoryError("village", "tap the map or choose a village")
        lat, lon = village["lat"], village["lon"]
    w, s, e, n = area
    if not (s <= lat <= n and w <= lon <= e):
        raise DirectoryError("lat", "this point is outside the area of this box's map")
    out["lat"], out["lon"] = round(lat, 6), round(lon, 6)
    return out


def duplicates(fields: dict, exclude: str = "") -> list[Place]:
    """Published places that look like the same organisation (nearest first)."""
    key = name_key(fields["name"])
    found = []
    for p in Place.select().where(~Place.removed):
        if p.uuid == exclude:
            continue
        d = distance_m(fields["lat"], fields["lon"], p.lat, p.lon)
        same = p.name_key == key and d <= SAME_NAME_M
        close = (
            d <= CLOSE_NAME_M
            and difflib.SequenceMatcher(None, p.name_key, key).ratio() >= CLOSE_RATIO
        )
        if same or close:
            found.append((d, p))
    return [p for _, p in sorted(found, key=lambda t: t[0])]


def pending_duplicates(fields: dict) -> list[Proposal]:
    key = name_key(fields["name"])
    return [
        p
        for p in Proposal.select().where(Proposal.status == "pending")
        if name_key(p.name) == key
        and distance_m(fields["lat"], fields["lon"], p.lat, p.lon) <= SAME_NAME_M
    ]


@dataclass
class Proposed:
    proposal: Proposal | None
    similar: list[Place]


def propose(
    form, site, client_hash: str, *, correction_of: str = "", confirm_new: bool = False
) -> Proposed:
    """Keep a citizen's proposal for moderation. When it looks like a published entry
    and the citizen has not said it is a different one, nothing is kept: ``similar``
    lists the entries to offer as a correction (the merge)."""
    fields = clean(form, site)
    if correction_of:
        target = Place.get_or_none(Place.uuid == correction_of)
        if target is None or target.removed:
            raise DirectoryError("place", "this entry is no longer in the directory")
    elif not confirm_new:
        similar = duplicates(fields)
        if similar:
            return Proposed(None, similar)
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with database.atomic():
        if (
            client_hash
            and Proposal.select()
            .where((Proposal.client_hash == client_hash) & (Proposal.created_at >= since))
            .count()
            >= PROPOSALS_PER_HOUR
        ):
            raise DirectoryError("name", "too many proposals from this phone; try again in an hour")
        for p in pending_duplicates(fields):
            if p.place_uuid == correction_of:
                return Proposed(p, [])  # the same proposal again: kept once
        proposal = Proposal.create(
            uuid=str(uuidlib.uuid4()),
            place_uuid=correction_of,
            client_hash=client_hash,
            created_at=now_iso(),
            **fields,
        )
    return Proposed(proposal, [])


def queue() -> list[Proposal]:
    return list(Proposal.select().where(Proposal.status == "pending").order_by(Proposal.id))


def payload(place: Place) -> dict:
    return {
        "uuid": place.uuid,
        "name": place.name,
        "kind": place.kind,
        "village": place.village,
        "lat": place.lat,
        "lon": place.lon,
        "contact": place.contact,
        "activities": place.activities,
        "languages": place.language_list,
        "led_by_women": place.led_by_women,
        "led_by_youth": place.led_by_youth,
        "removed": place.removed,
        "updated_at": place.updated_at,
    }


def _decide(proposal: Proposal, status: str, who: str) -> None:
    if proposal.status != "pending":
        raise DirectoryError("proposal", "this proposal was already decided")
    proposal.status, proposal.decided_by, proposal.decided_at = status, who[:80], now_iso()
    proposal.save()


def publish(proposal: Proposal, who: str) -> Place:
    """Publish a proposal: a new entry, or its correction applied to the entry."""
    with database.atomic():
        proposal = Proposal.get_by_id(proposal.id)
        _decide(proposal, "published", who)
        values = {f: getattr(proposal, f) for f in FIELDS}
        values.update(name_key=name_key(proposal.name), updated_at=now_iso())
        place = (
            Place.get_or_none(Place.uuid == proposal.place_uuid) if proposal.place_uuid else None
        )
        if place is None:
            place = Place.create(uuid=proposal.uuid, **values)
        else:
            for k, v in values.items():
                setattr(place, k, v)
            place.save()
        if not place.origin:
            outbox.append(kinds.PLACE_SAVED, payload(place))
        return place


def merge(proposal: Proposal, into: Place, who: str) -> Place:
    """The proposal names an entry already published: fill the entry's empty fields
    from it (nothing already published is overwritten) and close the proposal."""
    with database.atomic():
        proposal = Proposal.get_by_id(proposal.id)
        _decide(proposal, "merged", who)
        proposal.place_uuid = into.uuid
        proposal.save()
        changed = False
        for f in ("village", "contact", "activities", "languages"):
            if not getattr(into, f) and getattr(proposal, f):
                setattr(into, f, getattr(proposal, f))
                changed = True
        if changed:
            into.updated_at = now_iso()
            into.save()
            if not into.origin:
                outbox.append(kinds.PLACE_SAVED, payload(into))
        return into


def reject(proposal: Proposal, who: str) -> None:
    with database.atomic():
        _decide(Proposal.get_by_id(proposal.id), "rejected", who)


def listing(query: str = "", kind: str = "", include_removed: bool = False) -> list[Place]:
    q = Place.select().order_by(Place.village, Place.name)
    if not include_removed:
        q = q.where(~Place.removed)
    if kind in KINDS:
        q = q.where(Place.kind == kind)
    places = list(q)
    if query:
        key = name_key(query)
        places = [p for p in places if key in name_key(" ".join((p.name, p.village, p.activities)))]
    return places


def receive_shared(data: dict) -> str:
    """Apply ``place.shared`` (another box's entry): kept unless it is this box's own
    or older than the one held. Returns who applied it ("maps")."""
    if Place.select().where((Place.uuid == data["uuid"]) & (Place.origin == "")).exists():
        return "maps"  # our own entry, back from central
    try:
        lat, lon = float(data["lat"]), float(data["lon"])
        fields = {
            "name": _text(data, "name", NAME_MAX, required=True),
            "village": _text(data, "village", VILLAGE_MAX),
            "contact": _text(data, "contact", CONTACT_MAX),
            "activities": _text(data, "activities", ACTIVITIES_MAX, multiline=True),
        }
    except (DirectoryError, ValueError, TypeError):
        return "maps"  # refused, as central should have: nothing applied
    kind = data["kind"] if data["kind"] in KINDS else "association"
    langs = [c for c in data.get("languages") or [] if c in LANGUAGES]
    values = {
        **fields,
        "kind": kind,
        "lat": lat,
        "lon": lon,
        "languages": ",".join(langs),
        "led_by_women": bool(data.get("led_by_women")),
        "led_by_youth": bool(data.get("led_by_youth")),
        "removed": bool(data.get("removed")),
        "origin": str(data.get("origin", ""))[:64] or "central",
        "updated_at": str(data["updated_at"])[:40],
        "name_key": name_key(fields["name"]),
    }
    held = Place.get_or_none(Place.uuid == data["uuid"])
    if held is None:
        Place.create(uuid=data["uuid"], **values)
    elif held.updated_at <= values["updated_at"]:
        Place.update(**values).where(Place.id == held.id).execute()
    return "maps"


def as_json(places: list[Place]) -> str:
    return json.dumps(
        [
            {
                "uuid": p.uuid,
                "name": p.name,
                "kind": p.kind,
                "village": p.village,
                "lat": p.lat,
                "lon": p.lon,
                "icon": KINDS.get(p.kind, ("", "●"))[1],
            }
            for p in places
        ],
        ensure_ascii=False,
    )


def posts_naming(place: Place, limit: int = 5) -> list:
    """Published posts of the citizens' board whose text names this place (its name,
    accents, case and punctuation aside), newest first: the board's questions about a
    health centre or a school are read beside it."""
    from appliance.board.models import Post

    key = name_key(place.name)
    if len(key) < 4:
        return []
    found = []
    # the newest 500 published posts, compared in Python: SQLite's LIKE folds the case
    # of ASCII letters only ("École" would miss "école")
    candidates = Post.select().where(Post.status == "published").order_by(Post.id.desc()).limit(500)
    for post in candidates:
        if key in name_key(post.body):
            found.append(post)
            if len(found) >= limit:
                break
    return found
