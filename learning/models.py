"""Learning's tables (box migrations 0050, 0055, 0060): learners, progress per lesson,
groups, the learners' recorded work and the trainers' answers."""

from __future__ import annotations

import peewee

from appliance.models import BaseModel
from appliance.programme.models import Series

GENDERS = ("", "f", "m")
AGE_GROUPS = ("", "under35", "35plus")  # the programme's groups, so figures compare


class Learner(BaseModel):
    code = peewee.CharField(unique=True)  # 6 digits, printed on the learner's card
    ref = peewee.CharField(unique=True)  # box-salted hash: all central ever sees
    first_name = peewee.CharField(default="")
    gender = peewee.CharField(default="")
    age_group = peewee.CharField(default="")
    created_at = peewee.CharField()

    class Meta:
        table_name = "learning_learner"


class Progress(BaseModel):
    learner = peewee.ForeignKeyField(Learner, on_delete="CASCADE")
    course = peewee.CharField()
    lesson = peewee.CharField()
    opened_at = peewee.CharField(default="")
    listened_at = peewee.CharField(default="")
    done_at = peewee.CharField(default="")
    score = peewee.IntegerField(null=True)
    answers = peewee.TextField(default="{}")
    updated_at = peewee.CharField()

    class Meta:
        table_name = "learning_progress"


class Group(BaseModel):
    name = peewee.CharField()
    course = peewee.CharField()
    pace_days = peewee.IntegerField(default=7)
    started_on = peewee.CharField()
    created_at = peewee.CharField()
    # m0060: the programme's weekly series it follows (a module per session), and the
    # days without progress after which a member is stuck (learning/pace.py)
    series = peewee.ForeignKeyField(Series, null=True, on_delete="SET NULL")
    stuck_days = peewee.IntegerField(default=10)

    class Meta:
        table_name = "learning_group"


class Member(BaseModel):
    group = peewee.ForeignKeyField(Group, on_delete="CASCADE")
    learner = peewee.ForeignKeyField(Learner, on_delete="CASCADE")

    class Meta:
        table_name = "learning_member"


class Work(BaseModel):
    """A learner's recording or photo for an exercise (migration 0055); the bytes are a
    blob named by ``sha256``. A new attempt is a new row: the newest is shown."""

    uuid = peewee.CharField(unique=True)
    learner = peewee.ForeignKeyField(Learner, on_delete="CASCADE")
    course = peewee.CharField()
    lesson = peewee.CharField()
    exercise = peewee.IntegerField()
    type = peewee.CharField()  # read_aloud, photo
    sha256 = peewee.CharField()
    mime = peewee.CharField()
    size = peewee.IntegerField()
    seconds = peewee.FloatField(null=True)
    created_at = peewee.CharField()

    class Meta:
        table_name = "learning_work"


class Feedback(BaseModel):
    """A trainer's answer from central (``learning.feedback``): a mark and a voice note."""

    uuid = peewee.CharField(unique=True)
    work_uuid = peewee.CharField()
    mark = peewee.IntegerField()  # 1 encore, 2 bien, 3 très bien
    clip_sha256 = peewee.CharField(default="")
    clip_mime = peewee.CharField(default="")
    created_at = peewee.CharField()

    class Meta:
        table_name = "learning_feedback"
