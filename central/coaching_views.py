"""The trainers' pages (issue 20; see :mod:`central.coaching`): a trainer lists the work
of their groups, plays a recording or sees a photo, and answers with a mark and a voice
note; a regional admin assigns their region's trainers to groups. A trainer reaches no
other page of central, and no work of a group they are not assigned to (404)."""

from __future__ import annotations

import functools

from flask import (
    Blueprint,
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
from .coaching import (
    MARKS,
    MAX_VOICE_BYTES,
    PHOTO_MAGIC,
    Feedback,
    TrainerGroup,
    Work,
    answer,
    audio_type,
    groups,
    kind_of,
    trainer_works,
)
from .db import database
from .i18n import _
from .models import Admin, Site

bp = Blueprint(
    "coaching",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/coaching",
)


def _own_work(work_uuid: str) -> Work:
    """The work ``work_uuid`` if the trainer logged in is assigned to its group; else 404
    (the same answer whether it exists or not)."""
    work = trainer_works(g.admin).where(Work.uuid == work_uuid).first()
    if work is None:
        abort(404)
    return work


def trainer_required(view):
    """Trainers only (their own page); admins have theirs."""

    @functools.wraps(view)
    @auth.login_required
    def wrapped(*args, **kwargs):
        if g.admin.role != "trainer":
            abort(403, _("This page is a trainer's."))
        return view(*args, **kwargs)

    wrapped.trainer_ok = True  # auth.login_required lets a trainer through
    return wrapped


# --- the trainer's page --------------------------------------------------------------------


@bp.get("/coaching")
@trainer_required
def index():
    works = list(trainer_works(g.admin).limit(200))
    answers: dict[int, Feedback] = {}
    if works:
        for f in (
            Feedback.select().where(Feedback.work.in_([w.id for w in works])).order_by(Feedback.id)
        ):
            answers[f.work_id] = f
    sites = Site.select().where(Site.id.in_({w.site_id for w in works} or {0}))
    names = {(r["site"].id, r["ref"]): r for r in groups(sites)}
    # The work (civic stream) may come a sync before its bytes (blob stream): until they
    # are here the page says so, and takes no answer to what nobody could hear.
    data_dir = current_app.config["DATA_DIR"]
    arrived = {w.id for w in works if service.blob_path(data_dir, w.media_sha256).is_file()}
    return render_template(
        "central/coaching.html",
        works=works,
        arrived=arrived,
        answers=answers,
        names=names,
        marks=MARKS,
        pictograms={1: "↻", 2: "★★", 3: "★★★"},  # as the learner's lesson shows them
        max_voice_bytes=MAX_VOICE_BYTES,
    )


@bp.get("/coaching/work/<work_uuid>")
@trainer_required
def media(work_uuid: str):
    """The learner's recording or photo, served only as audio or an image its bytes
    say it is (a box's key could be stolen: what it sends is not trusted)."""
    from flask import send_file

    work = _own_work(work_uuid)
    try:
        path = service.blob_path(current_app.config["DATA_DIR"], work.media_sha256)
    except service.CentralError:
        abort(404)
    if not path.is_file():
        abort(404)
    with path.open("rb") as f:
        head = f.read(16)
    mime = audio_type(head) if work.type == "read_aloud" else kind_of(head, PHOTO_MAGIC)
    response = send_file(
        path,
        mimetype=mime or "application/octet-stream",
        conditional=True,
        max_age=0,
        as_attachment=mime is None,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/coaching/work/<work_uuid>/answer")
@trainer_required
def answer_view(work_uuid: str):
    from werkzeug.exceptions import RequestEntityTooLarge

    auth.check_csrf()
    work = _own_work(work_uuid)
    try:
        if not service.blob_path(current_app.config["DATA_DIR"], work.media_sha256).is_file():
            raise service.CentralError(_("the learner's work has not arrived yet"))
        upload = request.files.get("voice")
        voice = upload.stream.read(MAX_VOICE_BYTES + 1) if upload is not None else b""
        mark = int(request.form.get("mark", "0") or 0)
        answer(g.admin, work, mark, voice, current_app.config["DATA_DIR"])
    except (ValueError, RequestEntityTooLarge):
        flash(_("The answer was not kept: choose a mark, and a recording under 2 MB."))
    except service.CentralError as e:
        flash(_("The answer was not kept: %(why)s", why=str(e)))
    else:
        flash(_("Answer sent: the learner hears it after the box's next sync."))
    return redirect(url_for(".index") + f"#w-{work.uuid}")


# --- the regional admin assigns trainers -----------------------------------------------------


@bp.get("/coaching/trainers")
@auth.writer_required
def trainers():
    sites = list(auth.visible_sites())
    trainers = [
        a
        for a in Admin.select()
        .where((Admin.role == "trainer") & (Admin.region == g.admin.region_id))
        .order_by(Admin.username)
        if a.active
    ]
    assigned: dict[tuple[int, str], list[str]] = {}
    for tg in (
        TrainerGroup.select(TrainerGroup, Admin)
        .join(Admin)
        .where(TrainerGroup.site.in_([s.id for s in sites] or [0]))
    ):
        assigned.setdefault((tg.site_id, tg.group_ref), []).append(tg.admin.username)
    # per group: work received, and how much of it a trainer answered (never whose)
    counts: dict[tuple[int, str], list[int]] = {}
    answered = {
        work_id
        for (work_id,) in Feedback.select(Feedback.work)
        .join(Work)
        .where(Work.site.in_([s.id for s in sites] or [0]))
        .tuples()
    }
    for work_id, site_id, ref in (
        Work.select(Work.id, Work.site, Work.group_ref)
        .where(Work.site.in_([s.id for s in sites] or [0]))
        .tuples()
    ):
        c = counts.setdefault((site_id, ref), [0, 0])
        c[0] += 1
        c[1] += work_id in answered
    return render_template(
        "central/coaching_trainers.html",
        groups=groups(sites),
        trainers=trainers,
        assigned=assigned,
        counts=counts,
    )


@bp.post("/coaching/trainers")
@auth.writer_required
def assign():
    auth.check_csrf()
    trainer = Admin.get_or_none(
        (Admin.username == request.form.get("trainer", ""))
        & (Admin.role == "trainer")
        & (Admin.region == g.admin.region_id)
    )
    site = Site.get_or_none(Site.slug == request.form.get("site", ""))
    ref = request.form.get("group", "")
    if (
        trainer is None
        or site is None
        or not auth.can_see(site)
        or not any(r["ref"] == ref for r in groups([site]))
    ):
        abort(404)
    with database.atomic():
        if request.form.get("action") == "remove":
            TrainerGroup.delete().where(
                (TrainerGroup.admin == trainer)
                & (TrainerGroup.site == site)
                & (TrainerGroup.group_ref == ref)
            ).execute()
            service.audit(g.admin, "coaching.unassign", f"{trainer.username} {site.slug} {ref}")
        else:
            TrainerGroup.insert(
                admin=trainer, site=site, group_ref=ref
            ).on_conflict_ignore().execute()
            service.audit(g.admin, "coaching.assign", f"{trainer.username} {site.slug} {ref}")
    return redirect(url_for(".trainers"))
