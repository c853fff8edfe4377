"""SMS tables (schema in :mod:`appliance.migrations.m0030_sms`).

A phone number is stored in two places only: :class:`Contact` (while the person takes
part) and :class:`Outgoing` (until the message is sent). Everything else refers to the
contact row or to ``number_hash``, a box-salted HMAC (:func:`appliance.privacy.
identity_hash`) that never leaves the box either.
"""

from __future__ import annotations

import peewee

from appliance.board.models import Answer, Post
from appliance.models import BaseModel
from appliance.programme.models import Booking


class Contact(BaseModel):
    number = peewee.CharField(unique=True)
    number_hash = peewee.CharField(unique=True)
    lang = peewee.CharField(default="")  # the language of the keywords they use
    gender = peewee.CharField(default="")  # told when booking a reserved seat
    age_group = peewee.CharField(default="")
    listing = peewee.TextField(default="")  # session ids of the last list sent, JSON
    listing_at = peewee.CharField(default="")
    pending = peewee.TextField(default="")  # a booking waiting for the group, JSON
    refused_at = peewee.CharField(default="")  # last "you are sending too much" reply
    created_at = peewee.CharField()
    last_seen_at = peewee.CharField()

    class Meta:
        table_name = "sms_contact"


class Inbound(BaseModel):
    """A received message (all its parts), stored before anything is done with it.
    ``key`` is a hash of Gammu's inbox file names: receiving twice stores it once."""

    key = peewee.CharField(unique=True)
    contact = peewee.ForeignKeyField(Contact, null=True, on_delete="SET NULL")
    number_hash = peewee.CharField()
    text = peewee.TextField(default="")
    klass = peewee.IntegerField(default=-1)  # SMS class: 0 is a flash message
    is_binary = peewee.BooleanField(default=False)
    parts = peewee.IntegerField(default=1)
    status = peewee.CharField(default="new")  # new, handled
    outcome = peewee.CharField(default="")  # post, support, list, booked, stop, ...
    received_at = peewee.CharField()
    handled_at = peewee.CharField(default="")

    class Meta:
        table_name = "sms_inbound"


class Outgoing(BaseModel):
    """One single-part SMS to send. ``queued`` until handed to gammu-smsd (a file in its
    outbox named after ``id``), then ``sent`` or ``failed``; the number is blanked
    once the message is done with."""

    contact = peewee.ForeignKeyField(Contact, null=True, on_delete="SET NULL")
    number = peewee.CharField(default="")
    number_hash = peewee.CharField()
    text = peewee.TextField()
    encoding = peewee.CharField()  # gsm7 or ucs2
    parts = peewee.IntegerField(default=1)
    purpose = peewee.CharField()  # ack, answer, list, booked, reminder, ...
    ref = peewee.CharField(default="")  # the post code or booking code it is about
    status = peewee.CharField(default="queued")  # queued, handed, sent, failed
    attempts = peewee.IntegerField(default=0)
    file_name = peewee.CharField(default="")
    handed_day = peewee.CharField(default="")  # site-local date: the daily budget
    created_at = peewee.CharField()
    handed_at = peewee.CharField(default="")
    done_at = peewee.CharField(default="")

    class Meta:
        table_name = "sms_outgoing"


class Link(BaseModel):
    """A number asked (``asker``) or supported (``supporter``) a post: it gets the answer."""

    contact = peewee.ForeignKeyField(Contact, backref="links", on_delete="CASCADE")
    post = peewee.ForeignKeyField(Post, on_delete="CASCADE")
    role = peewee.CharField()
    created_at = peewee.CharField()

    class Meta:
        table_name = "sms_link"


class SmsBooking(BaseModel):
    """A booking made by SMS: who to remind the day before."""

    contact = peewee.ForeignKeyField(Contact, backref="bookings", on_delete="CASCADE")
    booking = peewee.ForeignKeyField(Booking, unique=True, on_delete="CASCADE")
    reminded = peewee.BooleanField(default=False)

    class Meta:
        table_name = "sms_booking"


class Answered(BaseModel):
    """An answer the SMS side has dealt with (schema in :mod:`appliance.migrations.
    m0085_sms_answered`): written in the transaction that queues the answer's messages,
    so each answer is queued exactly once, whichever process applied it."""

    answer = peewee.ForeignKeyField(Answer, primary_key=True, on_delete="CASCADE")
    handled_at = peewee.CharField()

    class Meta:
        table_name = "sms_answered"


class Told(BaseModel):
    """An answer sent to a number (schema in :mod:`appliance.migrations.
    m0087_sms_answer_told`): written with the number's answer SMS in one transaction,
    so whichever path sends it (the answer's round, a support after it, a duplicate
    merged in), a number gets each answer once."""

    answer = peewee.ForeignKeyField(Answer, on_delete="CASCADE")
    contact = peewee.ForeignKeyField(Contact, on_delete="CASCADE")
    told_at = peewee.CharField()

    class Meta:
        table_name = "sms_answer_told"
        primary_key = peewee.CompositeKey("answer", "contact")
