"""Learning groups (issue 20): courses built from a trainer's folder into a ZIM
(``espace course build``), learners without accounts (a 6-digit code, several per
phone), progress per lesson shown as a path of icons, groups at the kiosk with who is
where and who is stuck, certificates, and each learner's progress sent to central as a
snapshot keyed by (box-scoped learner hash, course); recordings and photos of exercises
go to the group's trainer at central, whose voice answer and mark come back
(``coaching``). See docs/learning.md.

A capability package: it imports the core (``appliance``) and ``sync_contract``, and
nothing of another capability (course ZIMs are opened with libzim here).
"""


def contribute(registry) -> None:
    from appliance.msgids import N_

    from . import cli, sync

    # Pages by reference: imported by the app only.
    registry.blueprint("learning.views:bp")
    registry.blueprint("learning.kiosk:bp")
    registry.command(cli.course_group)
    registry.tile("learning.index", N_("My lessons"), "learn", order=35)
    registry.sweep("learning_work", "learning.coaching:sweep")
    registry.sync_handler(sync.register_sync)
    registry.kiosk_tab("learning_kiosk.index", N_("Learning"), "learn", order=60)
