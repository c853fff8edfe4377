"""The regional admins' dashboard: sites, the board across sites, usage, audit log,
each page with its CSV export. Thin views over :mod:`central.service`."""

from __future__ import annotations

import csv
import datetime as dt
import io

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from . import auth, service
from .charts import line_chart
from .db import database
from .i18n import _, _l, day, ngettext, number
from .models import Answer, Audit, Post, PostForward, Site, UsageDay, utcnow

bp = Blueprint("admin", __name__, template_folder="templates")

STATUSES = ("open", "answered", "hidden")
METRICS = (("visits", _l("Visits")), ("views", _l("Content views")),
           ("bookings", _l("Bookings")), ("attendance", _l("Attendance")),
           ("posts", _l("Posts")),
           # Of those, by SMS: the reach of people without smartphones (issue 16).
           ("sms_posts", _l("Posts by SMS")), ("sms_bookings", _l("Bookings by SMS")))


@bp.before_app_request
def _who() -> None:
    auth.load_admin()


@bp.after_app_request
def _headers(resp: Response) -> Response:
    if request.blueprint in ("admin", "reports"):
        # media-src: voice notes play from central, and a recording previews from a
        # blob: URL; script-src 'self': the recorder (static/record.js), no inline.
        resp.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
            "media-src 'self' blob:; script-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'")
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "same-origin"
    return resp


@bp.app_context_processor
def _context() -> dict:
    return {"csrf_token": auth.csrf_token, "admin": g.get("admin")}


@bp.before_request
def _csrf() -> None:
    if request.method == "POST":
        auth.check_csrf()


def csv_cell(value):
    """A cell a spreadsheet shows as text: one starting with = + - @ (also after
    spaces, tabs or line breaks, which spreadsheets skip) or with a tab or CR runs as
    a formula otherwise (OWASP's CSV injection advice). Empty stays empty."""
    if isinstance(value, str) and value and (
            value[0] in "\t\r" or value.lstrip(" \t\r\n")[:1] in tuple("=+-@")):
        return "'" + value
    return value


def _csv(name: str, header: list[str], rows) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(c) for c in row])
    return Response(out.getvalue(), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename={name}.csv"})


def french_csv(name: str, header: list[str], rows) -> Response:
    """A CSV a French spreadsheet opens as it is (issue 15): UTF-8 with a BOM (else
    Excel reads Latin-1 and "Kayes é" breaks), ';' between cells (',' is the decimal
    separator there), French headers; cells defused as :func:`csv_cell` says."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(c) for c in row])
    return Response(out.getvalue().encode("utf-8"), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename={name}.csv"})


# --- login ---------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = ""
    status = 200
    if request.method == "POST":
        username = request.form.get("username", "")[:200]
        with database.atomic():
            throttled = auth.login_throttled(username)
        admin = None if throttled else auth.authenticate(username,
                                                         request.form.get("password", ""))
        with database.atomic():
            if admin is not None:
                auth.start_session(admin)
                service.audit(admin, "login")
            elif not throttled:
                # Throttled attempts are refused before any hashing and leave no row:
                # a flood of them must not fill the disk.
                auth.record_failure(*auth.login_scopes(username))
                service.audit(None, "login.failed", f"{username[:80]!r} from {auth.address()}")
        if admin is not None:
            resp = redirect(auth.safe_next(request.args.get("next"))
                            or url_for("admin.sites"))
            resp.set_cookie(auth.DEVICE_COOKIE, auth.device_cookie(admin.username),
                            max_age=auth.DEVICE_DAYS * 86400, httponly=True,
                            secure=current_app.config["SESSION_COOKIE_SECURE"],
                            samesite="Strict")
            return resp
        if throttled:
            error = _("Too many failed logins: wait 15 minutes and try again.")
            status = 429
        else:
            error, status = _("Wrong user name or password."), 401
    return render_template("central/login.html", error=error), status


@bp.post("/language")
@auth.login_required
def set_language():
    """The header's language switch: this admin's pages speak it from now on (other
    admins keep theirs); back to the page it was pressed on."""
    with database.atomic():
        try:
            service.set_language(g.admin, request.form.get("language", ""))
        except service.CentralError:
            abort(400, _("This language is not offered."))
    return redirect(auth.safe_next(request.form.get("next")) or url_for("admin.sites"))


set_language.trainer_ok = True  # a trainer chooses their language too (auth.login_required)


@bp.post("/logout")
def logout():
    with database.atomic():
        auth.end_session()
    return redirect(url_for("admin.login"))


# --- sites ---------------------------------------------------------------------------------


def _site_rows():
    """Sites, the longest without contact first (never-synced ones on top): the ones
    that need a call come first (issue 15)."""
    now = utcnow()
    rows = [(s, (now - s.last_contact) if s.last_contact else None)
            for s in auth.visible_sites()]
    rows.sort(key=lambda r: (r[1] is not None, -(r[1].total_seconds() if r[1] else 0)))
    yield from rows


def _age_text(age: dt.timedelta | None) -> str:
    if age is None:
        return _("never")
    hours = age.total_seconds() / 3600
    if hours < 1:
        return _("%(num)d min ago", num=int(age.total_seconds() // 60))
    if hours < 48:
        return _("%(num)d h ago", num=round(hours))
    days = round(hours / 24)
    return ngettext("%(num)d day ago", "%(num)d days ago", days)


@bp.get("/")
@auth.login_required
def sites():
    open_posts = {}
    for s in auth.visible_sites():
        open_posts[s.id] = Post.select().where((Post.site == s) & (Post.status == "open")).count()
    from . import certificates, site_health

    tls = {s.id: certificates.status(s) for s in auth.visible_sites()}
    now = utcnow()
    health = {s.id: {"sync": site_health.sync(s, now), "clock": site_health.clock(s),
                     "disk": site_health.disk(s)} for s in auth.visible_sites()}
    return render_template("central/sites.html", rows=list(_site_rows()), age_text=_age_text,
                           open_posts=open_posts, tls=tls, now=now, health=health)


@bp.get("/sites.csv")
@auth.login_required
def sites_csv():
    from . import certificates

    def row(s):
        tls = certificates.status(s)
        return [s.slug, s.name, s.region.name, s.last_contact.isoformat() if s.last_contact
                else "", s.pending, s.version, s.disk_free_mb, s.content_mb, s.records,
                int(s.revoked), tls["name"],
                tls["not_after"].isoformat() if tls["not_after"] else "",
                s.last_error, s.last_error_since, s.refusal,
                s.refusal_at.isoformat() if s.refusal_at else "",
                "" if s.clock_offset is None else s.clock_offset]

    return french_csv("sites", ["site", "nom", "région", "dernier_contact",
                                "en_attente_d_envoi", "version", "disque_libre_mo",
                                "contenu_mo", "enregistrements", "révoqué", "nom_certificat",
                                "certificat_jusqu_au", "erreur_de_la_boîte",
                                "erreur_depuis", "refus_de_central", "refus_le",
                                "avance_horloge_s"],
                (row(s) for s, _ in _site_rows()))


def _own_site(slug: str) -> Site:
    site = Site.get_or_none(Site.slug == slug)
    if site is None or not auth.can_see(site):
        abort(404)
    return site


@bp.post("/sites/<slug>/revoke")
@auth.writer_required
def revoke(slug: str):
    site = _own_site(slug)
    if request.form.get("confirm") != "yes":
        # The page asks first; a bare POST (a stray or forged button) changes nothing.
        flash(_("%(site)s not revoked: confirm first.", site=slug))
        return redirect(url_for("admin.sites"))
    service.revoke(site, g.admin)
    flash(_("%(site)s revoked: its box can no longer sync. To recover it: press "
            "'New code' here, then on the box run `espace sync enroll --central URL --code "
            "CODE` with that code (its records wait on the box and are sent then).",
            site=slug))
    return redirect(url_for("admin.sites"))


@bp.post("/sites/<slug>/code")
@auth.writer_required
def new_code(slug: str):
    code = service.reissue_code(_own_site(slug), g.admin)
    flash(_("New enrolment code for %(site)s: %(code)s (shown once).", site=slug, code=code))
    return redirect(url_for("admin.sites"))


# --- board ---------------------------------------------------------------------------------


def _board_query():
    """The posts a board's filters (in the URL) keep, oldest unanswered first."""
    from peewee import Case

    from . import reports

    sites = list(auth.visible_sites())
    f = reports.parse(request.args, sites)
    # Oldest unanswered first: open posts before the others, each oldest first.
    query = reports.posts_query(sites, f).order_by(
        Case(None, [(Post.status == "open", 0)], 1), Post.created_at, Post.id)
    return query, f, sites


@bp.get("/board")
@auth.login_required
def board():
    from .reports_views import choices

    query, f, sites = _board_query()
    from . import forwarding

    posts = list(query.limit(500))
    ids = [p.id for p in posts]
    # The newest voice answer of each post plays in the list (issue 15).
    voice_answers = {a.post_id: a for a in Answer.select().where(
        Answer.post.in_(ids) & (Answer.voice_sha256 != "")).order_by(Answer.id)} if ids else {}
    return render_template("central/board.html", posts=posts, f=f,
                           statuses=STATUSES, export="admin.board_csv",
                           show=("site", "commune", "theme", "status", "from", "to"),
                           forwards=forwarding.latest_by_post(ids),
                           voice_answers=voice_answers, **choices(sites))


@bp.get("/board.csv")
@auth.login_required
def board_csv():
    from .reports import first_answers
    from .vocabulary import AGE_GROUPS, GENDERS, POST_KINDS, THEMES, french
    from .vocabulary import STATUSES as STATUS_NAMES

    query, _f, _s = _board_query()
    posts = list(query)
    first = first_answers(posts)
    return french_csv("publications", [
        "site", "code", "uuid", "publié_le", "commune", "thème", "type", "état", "genre",
        "tranche_d_âge", "canal", "texte", "voix_sha256", "réponses", "première_réponse_le",
        "transmis_à"],
        ([p.site.slug, p.code, p.uuid, p.created_at, p.commune, french(THEMES, p.theme),
          french(POST_KINDS, p.kind), french(STATUS_NAMES, p.status), french(GENDERS, p.gender),
          french(AGE_GROUPS, p.age_group), p.channel.upper() if p.channel == "sms" else "web",
          p.body, p.voice_sha256,
          " | ".join(f"{a.official_name}: {_answer_text(a)}" for a in p.answers),
          first[p.id].isoformat(timespec="minutes") if p.id in first else "",
          " | ".join(fw.to_name for fw in p.forwards.order_by(PostForward.id))]
         for p in posts))


def _answer_text(answer: Answer) -> str:
    """An answer as the export writes it: a voice answer says so (it is not empty)."""
    if not answer.voice_sha256:
        return answer.body
    return f"{answer.body} [réponse vocale]" if answer.body else "[réponse vocale]"


def _send_voice(site: Site, sha: str):
    """A voice note from the blob store, for admins who can see ``site``: as audio only
    when its bytes are Ogg or WebM (central/voice.py), with Range (a phone's player
    seeks), nosniff."""
    from flask import send_file

    from . import voice

    if not auth.can_see(site) or not sha:
        abort(404)
    try:
        path = service.blob_path(current_app.config["DATA_DIR"], sha)
    except service.CentralError:
        abort(404)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=voice.served_type(path), conditional=True,
                         etag=sha, max_age=3600)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/board/<int:post_id>/voice")
@auth.login_required
def post_voice(post_id: int):
    """A post's voice note, to play on central (issue 15: only its hash was shown)."""
    post = Post.get_or_none(Post.id == post_id)
    if post is None:
        abort(404)
    return _send_voice(post.site, post.voice_sha256)


@bp.get("/answers/<int:answer_id>/voice")
@auth.login_required
def answer_voice(answer_id: int):
    """An answer's voice: recorded at a box's kiosk or in central's browser."""
    answer = Answer.get_or_none(Answer.id == answer_id)
    if answer is None:
        abort(404)
    return _send_voice(answer.post.site, answer.voice_sha256)


def _post_page(post: Post, error: str = "", field: str = "", status: int = 200,
               which: str = ""):
    """The post, its answers and forwards; ``error`` and ``field`` belong to the form
    ``which`` ("answer" or "forward"), refilled from the request."""
    from . import forwarding, voice

    return render_template(
        "central/post.html", post=post, answers=list(post.answers.order_by(Answer.id)),
        forwards=list(post.forwards.order_by(PostForward.id)),
        officials=forwarding.officials(post.site), error=error, error_field=field,
        error_form=which,
        max_voice_bytes=voice.MAX_VOICE_BYTES, form=request.form), status


@bp.route("/board/<int:post_id>", methods=["GET", "POST"])
@auth.login_required
def post_detail(post_id: int):
    from . import voice

    post = Post.get_or_none(Post.id == post_id)
    if post is None or not auth.can_see(post.site):
        abort(404)
    if request.method == "POST":
        if g.admin.role != "regional":
            abort(403, _("national viewers cannot change anything"))
        upload = request.files.get("voice")
        # Read one byte past the limit: a larger file is refused without reading it all.
        data = b""
        if upload:
            with upload.stream:  # a large upload spools to a temporary file: closed here
                data = upload.stream.read(voice.MAX_VOICE_BYTES + 1)
        try:
            service.record_answer(post, request.form.get("official_name", ""),
                                  request.form.get("body", ""), g.admin, voice=data or None,
                                  data_dir=current_app.config["DATA_DIR"])
        except service.FieldError as e:
            return _post_page(post, str(e), e.field, e.status, "answer")
        flash(_("Answer recorded: it reaches the box at its next sync."))
        return redirect(url_for("admin.post_detail", post_id=post.id))
    return _post_page(post)


@bp.post("/board/<int:post_id>/forward")
@auth.writer_required
def forward(post_id: int):
    """Send a post on to an official of its site or a service (audited, sent down)."""
    from . import forwarding

    post = Post.get_or_none(Post.id == post_id)
    if post is None or not auth.can_see(post.site):
        abort(404)
    try:
        row = forwarding.forward(post, official_id=request.form.get("official", ""),
                                 service=request.form.get("service", ""),
                                 note=request.form.get("note", ""), admin=g.admin)
    except forwarding.ForwardRefused as e:
        return _post_page(post, str(e), e.field, e.status, "forward")
    flash(_("Forwarded to %(name)s: the box shows it at its next sync.", name=row.to_name))
    return redirect(url_for("admin.post_detail", post_id=post.id))


# --- usage ---------------------------------------------------------------------------------


def _usage():
    """Per site in scope, its figures per day over the period (the URL's from/to, or
    its last ``days``, 30 by default)."""
    from . import reports

    sites = list(auth.visible_sites())
    f = reports.parse(request.args, sites, default_days=30)
    day_list = f.days()
    out = []
    for s in reports.scope(sites, f):
        rows = UsageDay.select().where((UsageDay.site == s) & (UsageDay.day >= day_list[0])
                                       & (UsageDay.day <= day_list[-1]))
        table = {(r.day, r.metric): r for r in rows}
        series = {str(label): [table[(d, m)].count if (d, m) in table else 0
                               for d in day_list] for m, label in METRICS}
        totals = {}
        for m, label in METRICS:
            count = sum(r.count for (d, mm), r in table.items() if mm == m)
            women = sum(r.women for (d, mm), r in table.items() if mm == m)
            youth = sum(r.youth for (d, mm), r in table.items() if mm == m)
            totals[m] = {"label": label, "count": count,
                         "women": round(100 * women / count) if count else None,
                         "youth": round(100 * youth / count) if count else None}
        chart = line_chart([day(d, "d MMM") for d in day_list], series,
                           title=_("%(site)s: usage per day", site=s.name), number=number)
        out.append((s, chart, totals, table))
    return f, sites, out


@bp.get("/usage")
@auth.login_required
def usage():
    from . import reports
    from .reports_views import choices

    f, sites, per_site = _usage()
    return render_template("central/usage.html", per_site=per_site, f=f,
                           totals=reports.totals(sites, f), export="admin.usage_csv",
                           show=("site", "commune", "theme", "type", "from", "to"),
                           **choices(sites))


@bp.get("/usage.csv")
@auth.login_required
def usage_csv():
    from .vocabulary import METRICS as NAMES
    from .vocabulary import french

    _f, _sites, per_site = _usage()
    rows = []
    for s, _chart, _totals, table in per_site:
        for (when, metric), r in sorted(table.items()):
            rows.append([s.slug, when, french(NAMES, metric), r.count, r.women, r.youth])
    return french_csv("usage", ["site", "jour", "mesure", "nombre", "femmes", "jeunes"], rows)


# --- audit ---------------------------------------------------------------------------------


def _audit_query():
    query = Audit.select().order_by(Audit.id.desc())
    if g.admin.role == "regional":
        # A regional admin sees their own actions and the enrolments of their sites'
        # boxes, not what happens in other regions.
        mine = Audit.admin == g.admin
        for site in auth.visible_sites():
            mine = mine | (Audit.admin.is_null() & Audit.detail.startswith(site.slug + " "))
        query = query.where(mine)
    return query


@bp.get("/audit")
@auth.login_required
def audit_log():
    return render_template("central/audit.html", entries=list(_audit_query().limit(300)))


@bp.get("/audit.csv")
@auth.login_required
def audit_csv():
    return french_csv("audit", ["le", "administrateur", "action", "détail"],
                ([a.at.isoformat(), a.admin.username if a.admin else "", a.action, a.detail]
                 for a in _audit_query()))
