"""Central counts posts and bookings that came by SMS apart (the reach of people
without smartphones), from the ``channel`` the sync contract declares; on SQLite and
PostgreSQL like the rest of central's tests."""

from __future__ import annotations

import uuid

from central.models import Post, UsageDay
from sync_contract import kinds
from tests.central.conftest import call, capp, cclient, database_url, pg_base  # noqa: F401
from tests.central.harness import post
from tests.central.test_central_admin import PASSWORD, login
from tests.central.test_central_sync import enrolled, exchange


def booking(channel: str) -> dict:
    return {
        "booking": str(uuid.uuid4()),
        "session": str(uuid.uuid4()),
        "status": "booked",
        "pool": "women",
        "attendance": "",
        "gender": "f",
        "age_group": "under35",
        "walk_in": False,
        "channel": channel,
    }


def test_the_contract_declares_the_channel():
    kinds.POST_CREATED.validate(post(uuid.uuid4(), "x", channel="sms"))
    kinds.BOOKING_CREATED.validate(booking("sms"))
    kinds.POST_CREATED.validate(post(uuid.uuid4(), "x"))  # older boxes send none


def test_sms_posts_and_bookings_are_counted_apart(call, capp):  # noqa: F811
    key, box_id = enrolled(call, capp)
    t = "2026-11-20T10:00:00+00:00"
    push = [
        [
            1,
            str(uuid.uuid4()),
            "post.created",
            t,
            post(uuid.uuid4(), "by sms", channel="sms", created_at=t),
        ],
        [
            2,
            str(uuid.uuid4()),
            "post.created",
            t,
            post(uuid.uuid4(), "by web", channel="web", created_at=t),
        ],
        [3, str(uuid.uuid4()), "booking.created", t, booking("sms")],
        [4, str(uuid.uuid4()), "booking.created", t, booking("web")],
    ]
    assert exchange(call, key, box_id, [["civic", 0, push]])["acks"] == {"civic": 4}
    counts = call(lambda: {r.metric: r.count for r in UsageDay.select()})
    assert counts == {"posts": 2, "sms_posts": 1, "bookings": 2, "sms_bookings": 1}
    channels = call(lambda: sorted((p.body, p.channel) for p in Post.select()))
    assert channels == [("by sms", "sms"), ("by web", "web")]


def test_the_board_marks_sms_posts(call, capp, cclient):  # noqa: F811
    from central import service

    key, box_id = enrolled(call, capp)
    t = "2026-11-20T10:00:00+00:00"
    exchange(
        call,
        key,
        box_id,
        [
            [
                "civic",
                0,
                [
                    [
                        1,
                        str(uuid.uuid4()),
                        "post.created",
                        t,
                        post(uuid.uuid4(), "le forage par SMS", channel="sms", created_at=t),
                    ],
                    [
                        2,
                        str(uuid.uuid4()),
                        "post.created",
                        t,
                        post(uuid.uuid4(), "le forage par le web", created_at=t),
                    ],
                ],
            ]
        ],
    )
    call(service.create_admin, "nat", PASSWORD, "national", None)
    login(cclient, "nat")
    page = cclient.get("/board").get_data(as_text=True)
    assert page.count('<svg class="sms"') == 1 and 'aria-label="Par SMS"' in page
