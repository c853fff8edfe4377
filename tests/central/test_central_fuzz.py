"""Every route of central, called with hostile parameters (hypothesis), on SQLite and
PostgreSQL, logged out and as a regional admin: none may answer 5xx."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings

from tests.central.test_central_admin import PASSWORD, seed
from tests.fuzz_support import requests, rule_calls

FUZZ = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def _token(client):
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def _fuzz(client, calls):
    @FUZZ
    @given(requests(calls))
    def check(request):
        method, path, form = request
        if method == "POST":
            form = dict(form, csrf=[_token(client)])
        response = client.open(path, method=method, data=form)
        assert response.status_code < 500, (method, path, form, response.status_code)

    check()


@pytest.mark.slow
def test_no_route_answers_5xx_logged_out(call, capp):
    seed(call, capp)
    _fuzz(capp.test_client(), rule_calls(capp, skip=("/static",)))


@pytest.mark.slow
def test_no_route_answers_5xx_to_an_admin(call, capp):
    seed(call, capp)
    client = capp.test_client()
    client.post("/login", data={"username": "awa", "password": PASSWORD,
                                "csrf": _token(client)})
    assert client.get("/").status_code == 200
    # Not /logout: the rest of the run must stay logged in.
    _fuzz(client, rule_calls(capp, skip=("/static", "/logout")))


def test_ids_past_every_integer_type_are_404(call, capp):
    seed(call, capp)
    client = capp.test_client()
    client.post("/login", data={"username": "awa", "password": PASSWORD,
                                "csrf": _token(client)})
    for n in (2**31, 2**63 - 1, 2**63, 10**30):
        assert client.get(f"/board/{n}").status_code == 404, n
    assert client.get("/usage?days=100000000000000000000000000").status_code == 200
