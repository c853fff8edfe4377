"""Models of the programme. The schema is written by migrations m0001 and m0003.

Times are naive UTC in the database; the site's time zone only matters when a
person reads or types a time (:mod:`.recurrence` does the conversions).
"""

from __future__ import annotations

import datetime as dt

import peewee

from ..models import BaseModel

KINDS = ("training", "mooc_group", "debate", "officials_meeting", "other")
GENDERS = ("", "f", "m")
AGE_GROUPS = ("", "under35", "35plus")


class Series(BaseModel):
    """A weekly series: its sessions are materialised rows (bookings attach to a real
    session); ``exceptions`` are the local dates skipped, kept so that extending the
    series never brings a skipped date back."""

    uuid = peewee.CharField(unique=True)
    first_local = peewee.CharField()  # ISO local date-time of the first occurrence
    weeks = peewee.IntegerField()
    exceptions = peewee.TextField(default="")  # comma-separated ISO local dates

    class Meta:
        table_name = "programme_series"

    def exception_dates(self) -> set[dt.date]:
        return {dt.date.fromisoformat(d) for d in self.exceptions.split(",") if d}


class Session(BaseModel):
    """A session of the programme. Times are UTC; shown in the site's time zone."""

    uuid = peewee.CharField(null=True)
    title = peewee.CharField()
    kind = peewee.CharField()  # one of KINDS
    description = peewee.TextField(default="")
    facilitator = peewee.CharField(default="")
    starts_at = peewee.DateTimeField()  # naive UTC
    duration_min = peewee.IntegerField()
    room = peewee.CharField(default="")
    capacity = peewee.IntegerField()
    reserved_women = peewee.IntegerField(default=0)
    reserved_youth = peewee.IntegerField(default=0)
    # Reserved seats open to everyone this many minutes before the start.
    release_min = peewee.IntegerField(default=120)
    cancelled = peewee.BooleanField(default=False)
    # The start it had before a facilitator moved it with bookings (m0045), shown on
    # tickets and the programme; None when it never moved.
    moved_from = peewee.DateTimeField(null=True)
    series = peewee.ForeignKeyField(Series, null=True, backref="sessions",
                                    on_delete="SET NULL")

    class Meta:
        table_name = "programme_session"

    @property
    def ends_at(self) -> dt.datetime:
        return self.starts_at + dt.timedelta(minutes=self.duration_min)

    @property
    def release_at(self) -> dt.datetime:
        return self.starts_at - dt.timedelta(minutes=self.release_min)


class Booking(BaseModel):
    """A seat (``status`` booked), a place in line (waiting) or a cancelled one.

    ``pool`` is the seats it holds before the release time: ``women``, ``youth`` or
    ``open``. ``attendance`` is empty until check-in (``present``) or ``no_show``.
    Name and phone stay on the box unless ``sync.share_visitor_names``."""

    uuid = peewee.CharField(unique=True)
    session = peewee.ForeignKeyField(Session, backref="bookings", on_delete="CASCADE")
    code = peewee.CharField()
    name = peewee.CharField(default="")
    phone = peewee.CharField(default="")
    gender = peewee.CharField(default="")
    age_group = peewee.CharField(default="")
    status = peewee.CharField()  # booked, waiting, cancelled
    pool = peewee.CharField(default="open")
    attendance = peewee.CharField(default="")  # "", present, no_show
    walk_in = peewee.BooleanField(default=False)
    # privacy.client_hash(scope="box") of the phone that booked; never leaves the box.
    client = peewee.CharField(default="")
    channel = peewee.CharField(default="web")  # "web" (portal, kiosk) or "sms" (m0030)
    created_at = peewee.DateTimeField()  # box clock, informational; order is by id
    updated_at = peewee.DateTimeField()

    class Meta:
        table_name = "programme_booking"

    @property
    def display_code(self) -> str:
        return f"{self.code[:3]} {self.code[3:]}"
