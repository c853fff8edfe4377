"""The sessions page, its export and the printable report for donors (issue 15).
Thin views over :mod:`central.reports`; the filters live in the URL."""

from __future__ import annotations

import json

from flask import Blueprint, Response, render_template, request

from . import auth, reports, vocabulary
from .charts import bar_chart, line_chart
from .i18n import _, day, number
from .models import UsageDay, utcnow

bp = Blueprint("reports", __name__, template_folder="templates")


@bp.app_errorhandler(reports.FilterError)
def _bad_filter(e: reports.FilterError):
    """A filter that means nothing: a page saying which and how to fix it (400)."""
    if request.path.endswith(".csv"):
        return Response(str(e) + "\n", status=400, content_type="text/plain; charset=utf-8")
    return render_template(
        "central/filter_error.html", message=str(e), param=e.param, back=request.path
    ), 400


def page_filters(default_days: int | None = None) -> tuple[list, reports.Filters]:
    sites = list(auth.visible_sites())
    return sites, reports.parse(request.args, sites, default_days=default_days)


def choices(sites: list) -> dict:
    """What the filter lists offer: the sites' communes, the themes posted, the types
    of session held, by their names."""
    from .models import Post, Snapshot

    ids = [s.id for s in sites]
    themes: set[str] = set()
    kinds_seen: set[str] = set(vocabulary.SESSION_KINDS)
    if ids:
        themes = {
            t for (t,) in Post.select(Post.theme).where(Post.site.in_(ids)).distinct().tuples()
        }
        for (payload,) in (
            Snapshot.select(Snapshot.payload)
            .where(Snapshot.site.in_(ids) & (Snapshot.kind == "session.saved"))
            .tuples()
        ):
            kind = json.loads(payload).get("kind")
            if isinstance(kind, str) and reports.ID.fullmatch(kind):
                kinds_seen.add(kind)
    return {
        "communes": sorted({c for s in sites for c in reports.communes_of(s)}),
        "themes": sorted(themes | set(vocabulary.THEMES)),
        "session_kinds": sorted(kinds_seen),
        "sites": sites,
    }


@bp.app_context_processor
def _helpers() -> dict:
    return {
        "percent": reports.percent,
        "vocab": vocabulary,
        "theme_name": lambda t: vocabulary.english(vocabulary.THEMES, t),
        "kind_name": lambda k: vocabulary.english(vocabulary.SESSION_KINDS, k),
        "status_name": lambda st: vocabulary.english(vocabulary.STATUSES, st),
    }


# --- sessions --------------------------------------------------------------------------------


@bp.get("/sessions")
@auth.login_required
def sessions():
    sites, f = page_filters()
    rows = reports.sessions(sites, f)
    return render_template(
        "central/sessions.html",
        rows=rows,
        f=f,
        totals=reports.session_totals(rows),
        now=utcnow(),
        show=("site", "commune", "type", "from", "to"),
        **choices(sites),
    )


def _share_cell(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}".replace(".", ",")


@bp.get("/sessions.csv")
@auth.login_required
def sessions_csv():
    from .admin import french_csv

    sites, f = page_filters()
    rows = reports.sessions(sites, f)
    return french_csv(
        "seances",
        [
            "site",
            "séance",
            "titre",
            "type",
            "début",
            "annulée",
            "tenue",
            "places",
            "réservées",
            "présents",
            "sans_réservation",
            "absents",
            "femmes",
            "jeunes",
            "part_femmes",
            "part_jeunes",
            "taux_de_remplissage",
        ],
        (
            [
                r.site.slug,
                r.uuid,
                r.title,
                vocabulary.french(vocabulary.SESSION_KINDS, r.kind),
                r.starts_at.isoformat(timespec="minutes") if r.starts_at else r.day,
                "oui" if r.cancelled else "non",
                "oui" if r.held else "non",
                "" if r.capacity is None else r.capacity,
                *(
                    ("" if not r.reported else getattr(r, k))
                    for k in ("booked", "present", "walk_in", "no_show", "women", "youth")
                ),
                _share_cell(r.women_share),
                _share_cell(r.youth_share),
                _share_cell(r.fill),
            ]
            for r in rows
        ),
    )


# --- the report for donors -------------------------------------------------------------------

REPORT_METRICS = ("visits", "posts", "attendance")


@bp.get("/report")
@auth.login_required
def report():
    """Indicators of a site (or every site in scope) over a period, to print (A4)."""
    sites, f = page_filters(default_days=90)
    in_scope = reports.scope(sites, f)
    totals = reports.totals(sites, f)
    days = f.days()
    ids = [s.id for s in in_scope]
    table: dict[tuple[str, str], int] = {}
    if ids:
        for when, metric, count in (
            UsageDay.select(UsageDay.day, UsageDay.metric, UsageDay.count)
            .where(
                UsageDay.site.in_(ids)
                & UsageDay.metric.in_(REPORT_METRICS)
                & (UsageDay.day >= days[0])
                & (UsageDay.day <= days[-1])
            )
            .tuples()
        ):
            table[(when, metric)] = table.get((when, metric), 0) + count
    names = {m: vocabulary.english(vocabulary.METRICS, m) for m in REPORT_METRICS}
    chart = line_chart(
        [day(d, "d MMM y") for d in days],
        {names[m]: [table.get((d, m), 0) for d in days] for m in REPORT_METRICS},
        title=_("Visits, posts and attendance per day"),
        number=number,
    )
    p, s = totals["posts"], totals["sessions"]
    shares = bar_chart(
        [
            (_("Posts by women"), p["women_share"]),
            (_("Posts by young people"), p["youth_share"]),
            (_("Women among those present at sessions"), s["women_share"]),
            (_("Young people among those present at sessions"), s["youth_share"]),
            (_("Women among officials"), totals["officials"]["women_share"]),
        ],
        title=_("Shares of women and young people"),
    )
    themes_chart = bar_chart(
        [(vocabulary.english(vocabulary.THEMES, t), n) for t, n in p["themes"][:10]],
        title=_("Posts by theme"),
        unit="",
    )
    title = (
        in_scope[0].name
        if f.site and in_scope
        else (
            f.commune
            or (sites[0].region.name if sites and len({s.region_id for s in sites}) == 1 else "")
        )
    )
    return render_template(
        "central/report.html",
        f=f,
        totals=totals,
        chart=chart,
        shares=shares,
        themes_chart=themes_chart,
        sessions=[r for r in reports.sessions(sites, f) if r.held][:200],
        place=title,
        in_scope=in_scope,
        generated=utcnow(),
        days=days,
        show=("site", "commune", "theme", "type", "from", "to"),
        **choices(sites),
    )


@bp.app_template_filter("hours")
def _hours(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 48:
        return _("%(hours)s h", hours=number(round(value)))
    return _("%(days)s days", days=number(round(value / 24, 1)))


@bp.app_template_global()
def filter_url(endpoint: str, f: reports.Filters, **changes) -> str:
    from flask import url_for

    args = {**f.args(), **changes}
    return url_for(endpoint, **{k: v for k, v in args.items() if v})
