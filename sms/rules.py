"""What the box does with an SMS, as plain functions over the models.

Guarantees:

- :func:`store` keeps a received message before anything is done with it (idempotent
  by its key: a RunOnReceive and the worker's inbox sweep store it once).
- :func:`handle` does everything one message causes in ONE transaction: the post
  (through :func:`appliance.board.rules.create_post`, with its moderation, limits and
  outbox event), the booking (:mod:`appliance.programme.rules`), the links that bring
  the answer back, the replies queued, and the message marked handled. A kill -9
  anywhere leaves either all of it or none of it; handled messages are never handled
  again, so nothing is posted or replied twice.
- Phone numbers stay in :class:`~sms.models.Contact` and unsent
  :class:`~sms.models.Outgoing` rows: never in an outbox event, never in a log.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from zoneinfo import ZoneInfo

import peewee
from flask import current_app

from appliance import privacy
from appliance.board import rules as board
from appliance.board.models import Answer, Post, Support
from appliance.db import database
from appliance.models import Commune, Official
from appliance.programme import rules as programme
from appliance.programme.models import Booking, Session
from appliance.programme.recurrence import to_local

from . import outgoing, parse, replies
from .gammu import Received
from .models import Answered, Contact, Inbound, Link, Outgoing, SmsBooking, Told

log = logging.getLogger("espace.sms")

LISTING_DAYS = 7
LISTING_MAX = 9
LISTING_VALID = dt.timedelta(days=2)
REFUSAL_EVERY = dt.timedelta(hours=1)
# Replies to what a number sends (receipts, lists, refusals, help) are capped per number
# over 24 hours, so one phone cannot spend the day's budget; what the number asked for
# (the answer to its question, the reminder of its booking) always goes.
ALWAYS_SENT = ("answer", "reminder")
REPLY_WINDOW = dt.timedelta(hours=24)


def iso(t: dt.datetime) -> str:
    return outgoing.iso(t)


def parse_iso(s: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError):
        return None


def _site():
    return current_app.config["SITE"]


def number_hash(number: str) -> str:
    return privacy.identity_hash("sms:" + number, "box")


# --- receiving -------------------------------------------------------------------------


def store(msg: Received, *, now: dt.datetime | None = None) -> Inbound:
    """Keep a received message (and its sender's number) before handling it."""
    now_s = iso(now or outgoing.utcnow())
    with database.atomic():
        existing = Inbound.get_or_none(Inbound.key == msg.key)
        if existing:
            return existing
        contact = _contact(msg.number, now_s) if msg.number else None
        return Inbound.create(
            key=msg.key,
            contact=contact,
            number_hash=contact.number_hash if contact else "",
            text=msg.text,
            klass=msg.klass,
            is_binary=msg.is_binary,
            parts=msg.parts,
            received_at=now_s,
        )


def _contact(number: str, now_s: str) -> Contact:
    number = "".join(number.split())
    contact = Contact.get_or_none(Contact.number == number)
    if contact is None:
        contact = Contact.create(
            number=number, number_hash=number_hash(number), created_at=now_s, last_seen_at=now_s
        )
    else:
        Contact.update(last_seen_at=now_s).where(Contact.id == contact.id).execute()
    return contact


def handle_pending(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Handle every stored message not yet handled, oldest first."""
    from .crash import crash_point

    n = 0
    for inbound in (
        Inbound.select().where(Inbound.status == "new").order_by(Inbound.id).limit(limit)
    ):
        handle(inbound, now=now)
        crash_point("sms:handled")
        n += 1
    return n


def handle(inbound: Inbound, *, now: dt.datetime | None = None) -> str:
    """Do what one message asks, reply, and mark it handled: one transaction."""
    now = now or outgoing.utcnow()
    with database.atomic():
        current = Inbound.get_by_id(inbound.id)
        if current.status != "new":
            return current.outcome
        outcome = _dispatch(current, now) if current.contact_id else "no_number"
        Inbound.update(status="handled", outcome=outcome, handled_at=iso(now)).where(
            Inbound.id == inbound.id
        ).execute()
    return outcome


def _lang(contact: Contact, command: parse.Command | None = None) -> str:
    site = _site()
    langs = site.sms.languages
    if command and command.lang in langs and command.lang != contact.lang:
        contact.lang = command.lang
        Contact.update(lang=command.lang).where(Contact.id == contact.id).execute()
    if contact.lang in langs:
        return contact.lang
    default = site.site.default_language
    return default if default in langs else langs[0]


def _reply(
    contact: Contact,
    lang: str,
    purpose: str,
    render,
    *,
    ref: str = "",
    more: str = "",
    now: dt.datetime,
) -> None:
    site = _site()
    with replies.language(lang):
        text = render()
        tail = replies.more(ref) if more else ""
    if purpose not in ALWAYS_SENT:
        parts = sum(cost.parts for _piece, cost in outgoing.prepare(text, site, tail))
        if _replied_parts(contact, now) + parts > site.sms.reply_parts_per_day:
            log.info(
                "sms: reply (%s) not sent: contact %s reached its daily replies",
                purpose,
                contact.id,
            )
            return
    outgoing.queue(contact, text, purpose, site, ref=ref, more=tail, now=now)


def _replied_parts(contact: Contact, now: dt.datetime) -> int:
    """Parts queued or sent to ``contact`` in the last 24 hours, answers and reminders
    apart."""
    total = (
        Outgoing.select(peewee.fn.COALESCE(peewee.fn.SUM(Outgoing.parts), 0))
        .where(
            (Outgoing.number_hash == contact.number_hash)
            & (Outgoing.created_at >= iso(now - REPLY_WINDOW))
            & Outgoing.purpose.not_in(ALWAYS_SENT)
        )
        .scalar()
    )
    return int(total or 0)


def _refuse(contact: Contact, lang: str, why: str, now: dt.datetime, render=None) -> str:
    """Tell the sender why, at most once an hour (a flooding phone, a phone sending
    nonsense in a loop, must not spend the budget)."""
    last = parse_iso(contact.refused_at)
    if last is None or now - last >= REFUSAL_EVERY:
        Contact.update(refused_at=iso(now)).where(Contact.id == contact.id).execute()
        _reply(contact, lang, "refused", render or (lambda: replies.refused(why)), now=now)
    return why


def _dispatch(inbound: Inbound, now: dt.datetime) -> str:
    site = _site()
    contact = Contact.get_by_id(inbound.contact_id)
    since = iso(now - dt.timedelta(hours=1))
    recent = (
        Inbound.select()
        .where(
            (Inbound.number_hash == inbound.number_hash)
            & (Inbound.received_at >= since)
            & (Inbound.id < inbound.id)
        )
        .count()
    )
    if recent >= site.sms.messages_per_hour:
        return _refuse(contact, _lang(contact), "rate_limited", now)
    if inbound.is_binary:
        return _refuse(contact, _lang(contact), "binary", now)
    command = parse.parse(inbound.text, list(dict.fromkeys([*site.sms.languages, "fr"])))
    lang = _lang(contact, command)
    action = command.action
    if action == "empty":
        return _refuse(contact, lang, "empty", now)
    if action == "stop":
        forget(contact, goodbye=lang, now=now)
        return "stop"
    if action in ("help", "unknown"):
        if action == "help":
            _reply(contact, lang, "help", replies.help_text, now=now)
            return "help"
        return _refuse(contact, lang, "unknown", now, replies.help_text)
    if action in ("question", "proposal"):
        return _post(contact, lang, command, now)
    if action == "support":
        return _support(contact, lang, command, now)
    if action == "programme":
        return _listing(contact, lang, now)
    if action == "book":
        return _book(contact, lang, command, now)
    if action == "cancel":
        return _cancel(contact, lang, command, now)
    return _refuse(contact, lang, "unknown", now, replies.help_text)


# --- the board -------------------------------------------------------------------------


def _post(contact: Contact, lang: str, command: parse.Command, now: dt.datetime) -> str:
    site = _site()
    themes = [t["id"] for t in site.board.themes]
    where = parse.target(command.rest, site.site.communes, themes)
    if not where.body:
        return _refuse(contact, lang, "empty", now)
    commune = Commune.get_or_none(Commune.name == (where.commune or site.site.communes[0]))
    target = f"c:{commune.id}" if commune else ""
    if where.official:
        key = parse.norm(where.official)
        matches = [o for o in Official.select() if key in parse.norm(o.name).split()]
        if len(matches) == 1:
            target = f"o:{matches[0].id}"
    theme = where.theme or ("other" if "other" in themes else themes[-1])
    draft = board.Draft(
        kind=command.action if command.action == "proposal" else "question",
        target=target,
        theme=theme,
        body=where.body,
    )

    def link(post: Post) -> None:
        Link.create(contact=contact, post=post, role="asker", created_at=iso(now))
        _reply(
            contact,
            lang,
            "ack",
            lambda: replies.posted(post.code, post.status == "published"),
            ref=post.code,
            now=now,
        )

    try:
        with database.atomic():  # a savepoint: a refused post leaves the rest usable
            board.create_post(
                draft,
                None,
                site=site,
                data_dir=site.data_dir,
                author_hash=privacy.identity_hash("sms:" + contact.number, "day"),
                channel="sms",
                after_create=link,
            )
    except board.BoardError as e:
        why = e.code if e.code in ("rate_limited", "too_long", "empty") else "invalid"
        return _refuse(contact, lang, why, now)
    return "post"


def _support(contact: Contact, lang: str, command: parse.Command, now: dt.datetime) -> str:
    code = parse.post_code(command.rest)
    post = board.find(code) if code else None
    while post is not None and post.status == "merged" and post.merged_into_id:
        post = post.merged_into
    if post is None or post.status != "published":
        _reply(contact, lang, "refused", lambda: replies.no_post(code), now=now)
        return "no_post"
    board.support(post, number_hash(contact.number))
    try:
        with database.atomic():
            Link.create(contact=contact, post=post, role="supporter", created_at=iso(now))
    except peewee.IntegrityError:
        pass  # already asked or supported it: one answer is enough
    if not Answer.select().where(Answer.post == post.id).exists():
        _reply(
            contact, lang, "supported", lambda: replies.supported(post.code), ref=post.code, now=now
        )
        return "support"
    # Already answered: the answer is what she texted for. The receipt says so, and the
    # latest answer follows in this transaction (unless this number already got it).
    _reply(
        contact,
        lang,
        "supported",
        lambda: replies.supported_answered(post.code),
        ref=post.code,
        now=now,
    )
    _tell_latest(contact, post, lang, now)
    return "support"


def queue_answers(*, now: dt.datetime | None = None, limit: int = 200) -> int:
    """Queue every answer the SMS side has not dealt with yet for each number that asked
    or supported its post (or a duplicate merged into it); returns how many answers had
    someone to tell.

    Whatever applied the answer (the kiosk, the worker's sync, ``espace sync now`` or
    ``espace sync import`` run by a technician, with or without an app), it is found
    here by the worker's ``sms`` job. Exactly once: the answer's :class:`Answered` mark
    and its messages are one transaction (a kill -9 leaves both or neither, and the next
    run queues it then), and :func:`sms.outgoing.flush` hands each queued message to
    gammu-smsd once even across a crash."""
    from .crash import crash_point

    now = now or outgoing.utcnow()
    pending = (
        Answer.select(Answer.id)
        .join(Answered, peewee.JOIN.LEFT_OUTER, on=(Answered.answer == Answer.id))
        .where(Answered.answer.is_null())
        .order_by(Answer.id)
        .limit(limit)
    )
    told = 0
    for row in list(pending):
        # IMMEDIATE: the write lock is taken before the mark is looked up, so two
        # processes running this at once (the worker, `espace sms tick`) cannot both
        # queue the same answer.
        with database.atomic("IMMEDIATE"):
            if Answered.get_or_none(Answered.answer == row.id) is not None:
                continue
            Answered.create(answer=row.id, handled_at=iso(now))
            told += _queue_answer(Answer.get_by_id(row.id), now) > 0
            crash_point("sms:answer-queued")  # killed here: rolled back, queued next run
        crash_point("sms:answer-committed")
    return told


def _queue_answer(answer: Answer, now: dt.datetime) -> int:
    """Queue ``answer`` for its post's SMS numbers that did not get it yet (see
    :func:`_tell_latest`), each in their language; a voice answer says where to listen.
    Answers always go (no daily reply cap). Returns how many were told."""
    post = answer.post
    ids = [post.id] + [p.id for p in Post.select(Post.id).where(Post.merged_into == post.id)]
    contacts = list(
        Contact.select()
        .join(Link)
        .where(Link.post.in_(ids))
        .group_by(Contact.id)
        .order_by(Contact.id)
    )

    told = 0
    for contact in contacts:
        if _mark_told(answer, contact, now):  # a late supporter's path may have sent it
            _reply(
                contact,
                _lang(contact),
                "answer",
                _render(answer),
                ref=post.code,
                more="yes",
                now=now,
            )
            told += 1
    return told


def _render(answer: Answer):
    post = answer.post

    def render() -> str:
        if answer.body:
            return replies.answer(post.code, answer.official_name, answer.body)
        return replies.answer_voice(post.code, answer.official_name)

    return render


def _mark_told(answer: Answer, contact: Contact, now: dt.datetime) -> bool:
    """Record that ``contact`` gets ``answer``; False if it already did (the table's
    key decides, so two paths, or two processes, cannot both send it)."""
    return bool(
        Told.insert(answer=answer.id, contact=contact.id, told_at=iso(now))
        .on_conflict_ignore()
        .as_rowcount()
        .execute()
    )


def _tell_latest(contact: Contact, post: Post, lang: str, now: dt.datetime) -> bool:
    """Queue ``post``'s latest answer for ``contact`` (who supported it, or asked a
    duplicate merged into it, after it was answered), once; inside the caller's
    transaction. Only the latest: it is what the citizen asked for, the earlier ones
    are what it supersedes, and each answer costs SMS parts. The earlier answers count
    as told too, so an earlier one the worker has not sent yet does not follow it."""
    answers = list(
        Answer.select()
        .where(Answer.post == post.id)
        .order_by(Answer.created_at.desc(), Answer.id.desc())
    )
    if not answers:
        return False
    latest, *earlier = answers
    for older in earlier:
        _mark_told(older, contact, now)
    if not _mark_told(latest, contact, now):
        return False
    _reply(contact, lang, "answer", _render(latest), ref=post.code, more="yes", now=now)
    return True


def queue_late_answers(*, now: dt.datetime | None = None, limit: int = 200) -> int:
    """Send the latest answer to every number linked to an answered post (directly, or
    through a duplicate merged into it) that has not got it: a duplicate merged at the
    kiosk after the answer went out, a support handled before this ran, numbers an
    upgrade left (migration 0087). Returns how many numbers were told. A support
    handled by :func:`handle` is told there, in its own transaction; this finds what
    no SMS made happen (the facilitator's merge)."""
    from .crash import crash_point

    now = now or outgoing.utcnow()
    rows = database.execute_sql(
        """
        SELECT DISTINCT l.contact_id, p.id FROM sms_link l
        JOIN board_post q ON q.id = l.post_id
        JOIN board_post p ON p.id = CASE WHEN q.status = 'merged' AND q.merged_into_id
                                         IS NOT NULL THEN q.merged_into_id ELSE q.id END
        JOIN board_answer a ON a.id = (SELECT id FROM board_answer WHERE post_id = p.id
                                       ORDER BY created_at DESC, id DESC LIMIT 1)
        WHERE NOT EXISTS (SELECT 1 FROM sms_answer_told t
                          WHERE t.answer_id = a.id AND t.contact_id = l.contact_id)
        ORDER BY l.contact_id, p.id LIMIT ?""",
        (limit,),
    ).fetchall()
    told = 0
    for contact_id, post_id in rows:
        with database.atomic("IMMEDIATE"):  # the told mark decides under the write lock
            contact = Contact.get_or_none(Contact.id == contact_id)
            post = Post.get_or_none(Post.id == post_id)
            if contact is None or post is None:
                continue  # forgotten (STOP) or deleted meanwhile
            told += _tell_latest(contact, post, _lang(contact), now)
            crash_point("sms:late-answer-queued")  # killed here: rolled back, sent next run
        crash_point("sms:late-answer-committed")
    return told


# --- the programme ---------------------------------------------------------------------


def _when(session: Session) -> str:
    local = to_local(session.starts_at, ZoneInfo(_site().site.timezone))
    return local.strftime("%d/%m %Hh%M")


def _listing(contact: Contact, lang: str, now: dt.datetime) -> str:
    sessions = list(
        Session.select()
        .where(
            (Session.starts_at > now)
            & (Session.starts_at < now + dt.timedelta(days=LISTING_DAYS))
            & (Session.cancelled == 0)
        )
        .order_by(Session.starts_at)
        .limit(LISTING_MAX)
    )
    rows = [(i, s, programme.seats(s, now).free) for i, s in enumerate(sessions, 1)]

    def render() -> str:
        lines = [
            f"{i} {_when(s)} {s.title[:28]}" + ("" if free else f" ({replies.full()})")
            for i, s, free in rows
        ]
        return replies.sessions(lines)

    Contact.update(listing=json.dumps([s.id for s in sessions]), listing_at=iso(now)).where(
        Contact.id == contact.id
    ).execute()
    _reply(contact, lang, "list", render, now=now)
    return "list"


def _book(contact: Contact, lang: str, command: parse.Command, now: dt.datetime) -> str:
    listed_at = parse_iso(contact.listing_at)
    ids = json.loads(contact.listing or "[]")
    if listed_at is None or now - listed_at > LISTING_VALID or not 1 <= command.number <= len(ids):
        _reply(contact, lang, "refused", replies.no_listing, now=now)
        return "no_listing"
    session = Session.get_or_none(Session.id == ids[command.number - 1])
    if session is None:
        _reply(contact, lang, "refused", replies.no_listing, now=now)
        return "no_listing"
    seats = programme.seats(session, now)
    if not command.group and not seats.released and (seats.free_women or seats.free_youth):
        _reply(contact, lang, "ask", lambda: replies.ask_group(command.number), now=now)
        return "ask_group"
    gender = "f" if "F" in command.group else ""
    age_group = "under35" if "J" in command.group else ""
    try:
        with database.atomic():
            booking = programme.book(
                session.id,
                "SMS",
                "",
                gender,
                age_group,
                now=now,
                client=number_hash(contact.number),
                channel="sms",
            )
            SmsBooking.create(contact=contact, booking=booking)
    except programme.ProgrammeError as e:
        return (
            _refuse(contact, lang, e.code, now)
            if e.code == "too_many"
            else _say(contact, lang, e.code, now)
        )
    if booking.status == "booked":
        _reply(
            contact,
            lang,
            "booked",
            lambda: replies.booked(session.title[:40], _when(session), booking.code),
            ref=booking.code,
            now=now,
        )
    else:
        position = programme.waiting_position(booking)
        _reply(
            contact,
            lang,
            "booked",
            lambda: replies.waiting(session.title[:40], position, booking.code),
            ref=booking.code,
            now=now,
        )
    return "booked"


def _say(contact: Contact, lang: str, why: str, now: dt.datetime) -> str:
    _reply(contact, lang, "refused", lambda: replies.refused(why), now=now)
    return why


def _cancel(contact: Contact, lang: str, command: parse.Command, now: dt.datetime) -> str:
    code = parse.booking_code(command.rest)
    mine = (
        SmsBooking.select(SmsBooking, Booking)
        .join(Booking)
        .where((SmsBooking.contact == contact) & (Booking.status != "cancelled"))
    )
    if code:
        mine = mine.where(Booking.code == code)
    rows = [r for r in mine if r.booking.session.starts_at > now]
    if len(rows) != 1:
        _reply(contact, lang, "refused", replies.no_booking, now=now)
        return "no_booking"
    b = rows[0].booking
    try:
        with database.atomic():
            programme.cancel(b.session_id, b.code, now=now)
    except programme.ProgrammeError as e:
        return _say(contact, lang, e.code, now)
    title = b.session.title[:40]
    _reply(contact, lang, "cancelled", lambda: replies.cancelled(title), ref=b.code, now=now)
    return "cancelled"


def remind_due(*, now: dt.datetime | None = None) -> int:
    """Queue the day-before reminder of SMS bookings (once each)."""
    now = now or outgoing.utcnow()
    due = (
        SmsBooking.select(SmsBooking, Booking, Session)
        .join(Booking)
        .join(Session)
        .where(
            (SmsBooking.reminded == 0)
            & (Booking.status == "booked")
            & (Session.cancelled == 0)
            & (Session.starts_at > now)
            & (Session.starts_at <= now + dt.timedelta(days=1))
        )
    )
    n = 0
    for row in list(due):
        with database.atomic():
            updated = (
                SmsBooking.update(reminded=True)
                .where((SmsBooking.id == row.id) & (SmsBooking.reminded == 0))
                .execute()
            )
            if not updated:
                continue
            contact = Contact.get_by_id(row.contact_id)
            session, code = row.booking.session, row.booking.code
            when = to_local(session.starts_at, ZoneInfo(_site().site.timezone)).strftime("%Hh%M")
            _reply(
                contact,
                _lang(contact),
                "reminder",
                lambda s=session, w=when, c=code: replies.reminder(s.title[:40], w, c),
                ref=code,
                now=now,
            )
            n += 1
    return n


# --- forgetting ------------------------------------------------------------------------


def forget(contact: Contact, *, goodbye: str = "", now: dt.datetime | None = None) -> None:
    """Forget a number: the contact, its links and reminders, its queued messages; the
    hashes that could be matched to it again become random. Posts and bookings stay
    (they no longer lead to anyone). With ``goodbye`` (a language), one last SMS says
    so; its number is blanked once it is sent."""
    now = now or outgoing.utcnow()
    with database.atomic():
        number, old = contact.number, contact.number_hash
        Outgoing.delete().where(
            (Outgoing.contact == contact.id) & (Outgoing.status == "queued")
        ).execute()
        Outgoing.update(number_hash="").where(Outgoing.number_hash == old).execute()
        Inbound.update(number_hash="", contact=None).where(
            (Inbound.contact == contact.id) | (Inbound.number_hash == old)
        ).execute()
        Support.update(client_hash=peewee.fn.printf("forgotten:%s", Support.uuid)).where(
            Support.client_hash == number_hash(number)
        ).execute()
        Booking.update(client="").where(Booking.client == number_hash(number)).execute()
        contact.delete_instance(recursive=False)  # links and reminders cascade
        if goodbye:
            with replies.language(goodbye):
                text = replies.stopped()
            outgoing.queue(
                None,
                text,
                "stop",
                _site(),
                number=number,
                number_hash=str(uuid.uuid4().hex[:16]),
                now=now,
            )


def expire(*, now: dt.datetime | None = None) -> int:
    """Forget numbers silent for ``sms.retention_days`` (and with no session still to
    come), and messages older than that. Returns how many numbers were forgotten."""
    now = now or outgoing.utcnow()
    days = _site().sms.retention_days
    cutoff = iso(now - dt.timedelta(days=days))
    upcoming = (
        SmsBooking.select(SmsBooking.contact)
        .join(Booking)
        .join(Session)
        .where(Session.starts_at > now - dt.timedelta(days=1))
    )
    old = list(
        Contact.select().where((Contact.last_seen_at < cutoff) & Contact.id.not_in(upcoming))
    )
    for contact in old:
        forget(contact, now=now)
    with database.atomic():
        Inbound.delete().where(
            (Inbound.received_at < cutoff) & (Inbound.status == "handled")
        ).execute()
        Outgoing.delete().where(
            (Outgoing.created_at < cutoff) & Outgoing.status.in_(("sent", "failed"))
        ).execute()
    return len(old)
