"""Every route of the box, called with hostile parameters (hypothesis): huge integers in
paths, lists where one value is expected, control and bidi characters, N'Ko and Arabic,
SQL, traversal, absurd dates. None may answer 5xx, as a visitor or as a facilitator."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from appliance.programme import rules
from tests.fuzz_support import acceptable, requests, rule_calls
from tests.support import csrf, kiosk_login

FUZZ = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def seeded(app, db):
    import datetime as dt

    s = rules.create_session(
        {"title": "Atelier", "kind": "training", "duration_min": 60, "capacity": 3},
        rules.utcnow() + dt.timedelta(days=1),
    )
    rules.book(s.id, "Awa")
    return app


def _no_5xx(client, method, path, form):
    if method == "POST":
        form = dict(form, csrf=[csrf(client)])
    response = client.open(path, method=method, data=form)
    assert acceptable(response.status_code), (method, path, form, response.status_code)


@pytest.mark.slow
def test_no_route_answers_5xx_to_a_visitor(seeded):
    client = seeded.test_client()
    calls = rule_calls(seeded, skip=("/static",))

    @FUZZ
    @given(requests(calls))
    def check(request):
        _no_5xx(client, *request)

    check()


@pytest.mark.slow
def test_no_route_answers_5xx_to_a_facilitator(seeded):
    client = seeded.test_client()
    kiosk_login(client)
    calls = [
        c
        for c in rule_calls(seeded)
        if c[0].startswith("/kiosk") and c[0] not in ("/kiosk/logout", "/kiosk/login")
    ]

    @FUZZ
    @given(requests(calls))
    def check(request):
        _no_5xx(client, *request)

    check()


def test_ids_past_every_integer_type_are_404(seeded):
    """The issue's list: /programme/<id>, /book, ticket, cancel and the kiosk's routes."""
    client = seeded.test_client()
    kiosk_login(client)
    token = csrf(client)
    for n in (2**63, 2**64 + 1, 10**30):
        for method, path in (
            ("GET", f"/programme/{n}"),
            ("POST", f"/programme/{n}/book"),
            ("GET", f"/programme/{n}/b/123456"),
            ("POST", f"/programme/{n}/b/123456/cancel"),
            ("GET", f"/kiosk/sessions/{n}"),
            ("GET", f"/kiosk/sessions/{n}/edit"),
            ("POST", f"/kiosk/sessions/{n}/cancel"),
            ("POST", f"/kiosk/sessions/1/checkin/{n}"),
            ("POST", f"/kiosk/sessions/1/noshow/{n}"),
            ("GET", f"/kiosk/sessions/{n}/sheet"),
        ):
            r = client.open(path, method=method, data={"csrf": token, "name": "Awa"})
            assert r.status_code == 404, (method, path, r.status_code)


@pytest.mark.parametrize(
    "target",
    [
        "/%09/evil.example",
        "/%5Cevil.example",
        "//evil.example",
        "/%0d%0aSet-Cookie:%20x=1",
        "https://evil.example/",
    ],
)
def test_language_and_kiosk_redirects_stay_on_the_box(seeded, target):
    client = seeded.test_client()
    r = client.get(f"/lang/fr?next={target}")
    assert r.status_code == 303 and r.location == "/"
    from tests.support import kiosk_login

    kiosk_login(client)
    r = client.get(f"/kiosk/login?next=/kiosk{target}")
    assert r.status_code < 500
