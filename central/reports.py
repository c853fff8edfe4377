"""Figures for the regional admins and their donors (issue 15): the filters a page
reads from its URL, per-session figures, region-wide totals, questions answered and
how long that took, the share of women among officials.

Every figure derives from what central keeps the way the box counts it: a session and
its attendance from the latest snapshot of each (``Snapshot`` of ``session.saved`` and
``attendance.counts``), officials from their latest ``official.saved`` snapshot, never
from events added up (a replayed batch changes nothing); posts and answers from their
rows; visits, views and bookings from the daily figures (``UsageDay``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sync_contract import kinds

from .i18n import _
from .models import Answer, Post, Site, Snapshot, UsageDay, utcnow

MAX_DAYS = 3660  # ten years: longer is a typo, and a slow page
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ID = re.compile(r"[a-z][a-z0-9_-]{0,39}")
STATUSES = ("open", "answered", "hidden")


class FilterError(ValueError):
    """A filter in the URL that means nothing; the message names it (``param``) and
    says the fix, in the reader's language."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class Filters:
    """What a page shows, as its URL says (so a filtered view can be shared)."""

    site: str = ""
    commune: str = ""
    theme: str = ""
    kind: str = ""  # the session type (URL: type)
    status: str = ""
    start: dt.date | None = None  # URL: from
    end: dt.date | None = None  # URL: to, inclusive

    def args(self) -> dict[str, str]:
        """The URL parameters of these filters (empty ones left out)."""
        out = {
            "site": self.site,
            "commune": self.commune,
            "theme": self.theme,
            "type": self.kind,
            "status": self.status,
            "from": self.start.isoformat() if self.start else "",
            "to": self.end.isoformat() if self.end else "",
        }
        return {k: v for k, v in out.items() if v}

    def days(self) -> list[str]:
        """Every day of the period (which must be bounded), as ISO dates."""
        assert self.start is not None and self.end is not None
        n = (self.end - self.start).days + 1
        return [(self.start + dt.timedelta(days=i)).isoformat() for i in range(n)]

    def has_day(self, day: str) -> bool:
        return (self.start is None or day >= self.start.isoformat()) and (
            self.end is None or day <= self.end.isoformat()
        )


def _date(args: Mapping[str, str], name: str) -> dt.date | None:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    try:
        if not DATE.fullmatch(value):
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise FilterError(
            name, _("“%(name)s” is not a date: write it as 2026-11-30 (year-month-day)", name=name)
        ) from None


def parse(
    args: Mapping[str, str],
    sites: Iterable[Site] = (),
    *,
    default_days: int | None = None,
    today: dt.date | None = None,
) -> Filters:
    """The filters of a request's query string, checked: a value that means nothing
    raises :class:`FilterError` naming the parameter (a page shows it, never a 500).
    ``sites`` are those the admin may see (``site`` must be one); ``default_days``
    bounds a page that needs a period (the last N days, or ``days=N``)."""
    today = today or utcnow().date()
    start, end = _date(args, "from"), _date(args, "to")
    days = (args.get("days") or "").strip()
    if days and not start:
        if not days.isdigit() or not 1 <= int(days) <= MAX_DAYS:
            raise FilterError(
                "days", _("“days” must be a number of days from 1 to %(most)d", most=MAX_DAYS)
            )
        default_days = int(days)
    if default_days and not start:
        start = (end or today) - dt.timedelta(days=default_days - 1)
    if default_days and not end:
        end = max(today, start) if start else today
    if start and end and start > end:
        raise FilterError("from", _("“from” is after “to”: swap the two dates"))
    if start and end and (end - start).days >= MAX_DAYS:
        raise FilterError(
            "from", _("The period is longer than %(most)d days: narrow it", most=MAX_DAYS)
        )
    site = (args.get("site") or "").strip()
    if site and site not in {s.slug for s in sites}:
        raise FilterError(
            "site", _("“site”: no site “%(site)s” among the sites you can see", site=site[:40])
        )
    values = {}
    for name in ("theme", "type"):
        value = (args.get(name) or "").strip()
        if value and not ID.fullmatch(value):
            raise FilterError(
                name,
                _(
                    "“%(name)s” is not one of the list's values: choose one from the list",
                    name=name,
                ),
            )
        values[name] = value
    commune = (args.get("commune") or "").strip()
    if len(commune) > 80 or any(ord(c) < 32 for c in commune):
        raise FilterError("commune", _("“commune” is not a commune name: choose one from the list"))
    status = (args.get("status") or "").strip()
    if status and status not in STATUSES:
        raise FilterError("status", _("“status” is one of %(values)s", values=", ".join(STATUSES)))
    return Filters(
        site=site,
        commune=commune,
        theme=values["theme"],
        kind=values["type"],
        status=status,
        start=start,
        end=end,
    )


def communes_of(site: Site) -> list[str]:
    return [c.strip() for c in (site.communes or "").split(",") if c.strip()]


def scope(sites: Iterable[Site], f: Filters) -> list[Site]:
    """The sites a filter keeps: the one chosen, those serving the commune chosen."""
    return [
        s
        for s in sites
        if (not f.site or s.slug == f.site) and (not f.commune or f.commune in communes_of(s))
    ]


def parse_time(value: object) -> dt.datetime | None:
    """A box's ISO time (``...Z`` or ``+00:00``) as naive UTC; None if it is not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        t = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC).replace(tzinfo=None)
    return t


def share(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` as a fraction (None when there is nothing to divide)."""
    return part / whole if whole else None


# --- sessions --------------------------------------------------------------------------


@dataclass
class SessionFigures:
    """One session of a site's programme as its latest snapshots describe it."""

    site: Site
    uuid: str
    title: str = ""
    kind: str = ""
    starts_at: dt.datetime | None = None
    day: str = ""
    capacity: int | None = None
    cancelled: bool = False
    reported: bool = False  # an attendance snapshot came (booked, present... known)
    booked: int = 0
    present: int = 0
    walk_in: int = 0
    no_show: int = 0
    women: int = 0
    youth: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def held(self) -> bool:
        return not self.cancelled and self.starts_at is not None and self.starts_at <= utcnow()

    @property
    def women_share(self) -> float | None:
        return share(self.women, self.present)

    @property
    def youth_share(self) -> float | None:
        return share(self.youth, self.present)

    @property
    def fill(self) -> float | None:
        """People present (walk-ins included) over seats."""
        return share(self.present, self.capacity or 0)


def _int(data: dict, key: str) -> int:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def sessions(sites: Iterable[Site], f: Filters) -> list[SessionFigures]:
    """Each session of the sites in scope, newest first, with its seats and attendance
    from the latest snapshots (issue 12's rule). Filtered by the period (the session's
    day) and the session type; a cancelled one is listed, and counts as not held."""
    by_id = {s.id: s for s in scope(sites, f)}
    if not by_id:
        return []
    rows: dict[tuple[int, str], SessionFigures] = {}
    query = Snapshot.select(
        Snapshot.site, Snapshot.kind, Snapshot.subject, Snapshot.day, Snapshot.payload
    ).where(
        Snapshot.site.in_(list(by_id))
        & Snapshot.kind.in_([kinds.SESSION_SAVED.name, kinds.ATTENDANCE.name])
    )
    for site_id, kind, subject, day, payload in query.tuples():
        try:
            data = json.loads(payload)
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        row = rows.setdefault((site_id, subject), SessionFigures(by_id[site_id], subject))
        if kind == kinds.SESSION_SAVED.name:
            row.title = str(data.get("title", ""))[:200]
            row.kind = str(data.get("kind", ""))[:40]
            row.starts_at = parse_time(data.get("starts_at"))
            row.capacity = _int(data, "capacity")
            row.cancelled = data.get("cancelled") is True
            if row.starts_at:
                row.day = row.starts_at.date().isoformat()
        else:
            row.reported = True
            for key in ("booked", "present", "walk_in", "no_show", "women", "youth"):
                setattr(row, key, _int(data, key))
            row.day = row.day or day
    out = [r for r in rows.values() if f.has_day(r.day) and (not f.kind or r.kind == f.kind)]
    out.sort(key=lambda r: (r.day, r.starts_at or dt.datetime.min, r.uuid), reverse=True)
    return out


def session_totals(rows: list[SessionFigures]) -> dict:
    """Sessions held (not cancelled, started), their seats, who came, the fill rate
    and the shares of women and young people among those present."""
    held = [r for r in rows if r.held]
    seats = sum(r.capacity or 0 for r in held)
    present = sum(r.present for r in held)
    women = sum(r.women for r in held)
    youth = sum(r.youth for r in held)
    return {
        "held": len(held),
        "planned": sum(1 for r in rows if not r.cancelled and not r.held),
        "cancelled": sum(1 for r in rows if r.cancelled),
        "seats": seats,
        "booked": sum(r.booked for r in held),
        "present": present,
        "walk_in": sum(r.walk_in for r in held),
        "fill": share(present, seats),
        "women": women,
        "youth": youth,
        "women_share": share(women, present),
        "youth_share": share(youth, present),
    }


# --- posts and answers ---------------------------------------------------------------------


def posts_query(sites: Iterable[Site], f: Filters, *, with_status: bool = True):
    """The posts of the sites chosen, by the post's own commune, theme, status and the
    day it was posted (the box's date)."""
    ids = [s.id for s in sites if not f.site or s.slug == f.site]
    query = Post.select(Post, Site).join(Site).where(Post.site.in_(ids) if ids else Post.id < 0)
    if f.commune:
        query = query.where(Post.commune == f.commune)
    if f.theme:
        query = query.where(Post.theme == f.theme)
    if with_status and f.status:
        query = query.where(Post.status == f.status)
    if f.start:
        query = query.where(Post.created_at >= f.start.isoformat())
    if f.end:
        query = query.where(Post.created_at < (f.end + dt.timedelta(days=1)).isoformat())
    return query


def first_answers(posts: list[Post]) -> dict[int, dt.datetime]:
    """When each answered post got its first answer (the kiosk's time for an answer
    recorded there, central's for one typed here)."""
    ids = [p.id for p in posts if p.status == "answered"]
    first: dict[int, dt.datetime] = {}
    for i in range(0, len(ids), 500):
        for post_id, at in (
            Answer.select(Answer.post, Answer.created_at)
            .where(Answer.post.in_(ids[i : i + 500]))
            .tuples()
        ):
            if isinstance(at, str):
                at = parse_time(at)
            if at is not None and (post_id not in first or at < first[post_id]):
                first[post_id] = at
    return first


def answer_delays(posts: list[Post]) -> dict[int, float]:
    """Hours from each answered post to its first answer."""
    first = first_answers(posts)
    out = {}
    for p in posts:
        asked = parse_time(p.created_at)
        if p.id in first and asked is not None:
            out[p.id] = max(0.0, (first[p.id] - asked).total_seconds() / 3600)
    return out


def post_totals(sites: Iterable[Site], f: Filters) -> dict:
    """Posts (all of them, hidden too, as the box counts them) with the shares of women
    and young people among the authors who said; questions asked (not hidden) and
    answered, and the median time to the first answer."""
    from .handlers import YOUTH

    posts = list(posts_query(sites, f, with_status=False))
    questions = [p for p in posts if p.kind == "question" and p.status != "hidden"]
    answered = [p for p in questions if p.status == "answered"]
    delays = list(answer_delays(answered).values())
    themes: dict[str, int] = {}
    for p in posts:
        themes[p.theme] = themes.get(p.theme, 0) + 1
    women = sum(1 for p in posts if p.gender == "f")
    youth = sum(1 for p in posts if p.age_group in YOUTH)
    return {
        "posts": len(posts),
        "women": women,
        "youth": youth,
        "women_share": share(women, len(posts)),
        "youth_share": share(youth, len(posts)),
        "by_sms": sum(1 for p in posts if p.channel == "sms"),
        "questions": len(questions),
        "answered": len(answered),
        "answered_share": share(len(answered), len(questions)),
        "median_hours": statistics.median(delays) if delays else None,
        "themes": sorted(themes.items(), key=lambda kv: (-kv[1], kv[0])),
    }


# --- officials ------------------------------------------------------------------------------


def officials(sites: Iterable[Site], f: Filters) -> dict:
    """The sites' officials as last saved (``official.saved`` snapshots): how many,
    how many women, and their share among those whose gender is known."""
    ids = [s.id for s in scope(sites, f)]
    total = women = men = 0
    if ids:
        for (payload,) in (
            Snapshot.select(Snapshot.payload)
            .where(Snapshot.site.in_(ids) & (Snapshot.kind == kinds.OFFICIAL_SAVED.name))
            .tuples()
        ):
            try:
                data = json.loads(payload)
            except ValueError:
                continue
            if not isinstance(data, dict) or (f.commune and data.get("commune") != f.commune):
                continue
            total += 1
            women += data.get("gender") == "f"
            men += data.get("gender") == "m"
    return {
        "total": total,
        "women": women,
        "men": men,
        "unknown": total - women - men,
        "women_share": share(women, women + men),
    }


# --- usage ---------------------------------------------------------------------------------


def usage_totals(sites: Iterable[Site], f: Filters) -> dict[str, dict]:
    """Per metric over the period: count, women, youth (the daily figures)."""
    ids = [s.id for s in scope(sites, f)]
    out: dict[str, dict] = {}
    if not ids:
        return out
    query = UsageDay.select(
        UsageDay.metric, UsageDay.day, UsageDay.count, UsageDay.women, UsageDay.youth
    ).where(UsageDay.site.in_(ids))
    if f.start:
        query = query.where(UsageDay.day >= f.start.isoformat())
    if f.end:
        query = query.where(UsageDay.day <= f.end.isoformat())
    for metric, _day, count, women, youth in query.tuples():
        t = out.setdefault(metric, {"count": 0, "women": 0, "youth": 0})
        t["count"] += count
        t["women"] += women
        t["youth"] += youth
    for t in out.values():
        t["women_share"] = share(t["women"], t["count"])
        t["youth_share"] = share(t["youth"], t["count"])
    return out


def totals(sites: Iterable[Site], f: Filters) -> dict:
    """Region-wide (or the sites in scope) figures over the period: usage, posts and
    answers, sessions, officials."""
    sites = list(sites)
    session_rows = sessions(sites, f)
    return {
        "sites": len(scope(sites, f)),
        "usage": usage_totals(sites, f),
        "posts": post_totals(sites, f),
        "sessions": session_totals(session_rows),
        "officials": officials(sites, f),
    }


def percent(value: float | None) -> str:
    """A share as people read it: "42 %" (French spacing), or "—" when there is none."""
    return "—" if value is None else f"{round(100 * value)} %"
