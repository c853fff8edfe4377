"""Every route of central, called with hostile parameters (hypothesis), on SQLite and
PostgreSQL, logged out and as a regional admin: none may answer 5xx."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings

from tests.central.test_central_admin import PASSWORD, seed
from tests.fuzz_support import acceptable, requests, rule_calls

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


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
        assert acceptable(response.status_code), (method, path, form, response.status_code)

    check()


@pytest.mark.slow
def test_no_route_answers_5xx_logged_out(call, capp):
    seed(call, capp)
    _fuzz(capp.test_client(), rule_calls(capp, skip=("/static",)))


@pytest.mark.slow
def test_no_route_answers_5xx_to_an_admin(call, capp):
    seed(call, capp)
    client = capp.test_client()
    client.post("/login", data={"username": "awa", "password": PASSWORD, "csrf": _token(client)})
    assert client.get("/").status_code == 200
    # Not /logout: the rest of the run must stay logged in.
    _fuzz(client, rule_calls(capp, skip=("/static", "/logout")))


def test_ids_past_every_integer_type_are_404(call, capp):
    seed(call, capp)
    client = capp.test_client()
    client.post("/login", data={"username": "awa", "password": PASSWORD, "csrf": _token(client)})
    for n in (2**31, 2**63 - 1, 2**63, 10**30):
        assert client.get(f"/board/{n}").status_code == 404, n
    # A period that means nothing is a page saying so (issue 15), never a 500.
    resp = client.get("/usage?days=100000000000000000000000000")
    assert resp.status_code == 400 and 'data-param="days"' in resp.get_data(as_text=True)


@pytest.mark.slow
def test_signed_sync_messages_never_answer_5xx(call, capp):
    """An enrolled box's key signing whatever JSON a stolen key could send, to every
    sync path: refused or answered, never a 500."""
    import uuid

    from hypothesis import strategies as st

    from central import service
    from sync_contract import protocol

    key, box_id = protocol.new_private_key(), str(uuid.uuid4())
    _site, code = call(service.create_site, "fuzz", "Espace fuzz", "Kayes", ["Nioro"])
    call(
        service.enroll,
        capp.config["DATA_DIR"],
        {"code": code, "box_id": box_id, "public_key": protocol.public_b64(key)},
    )
    client = capp.test_client()
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.text(max_size=20),
        st.sampled_from(["a" * 64, "civic", 2**63, -1, 10**30]),
    )
    values = st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=12,
    )
    fields = [
        "push",
        "cursor",
        "want",
        "st",
        "ack",
        "sha",
        "off",
        "len",
        "size",
        "ph",
        "t",
        "n",
        "kinds",
    ]
    messages = st.dictionaries(st.sampled_from(fields), values, max_size=6)
    paths = st.sampled_from([protocol.PATH_EXCHANGE, protocol.PATH_FILE, protocol.PATH_BLOB])

    @FUZZ
    @given(paths, messages)
    def check(path, message):
        frame = protocol.encode_request(key, box_id, path, message)
        r = client.post(path, data=frame)
        assert r.status_code < 500, (path, message, r.status_code)

    check()
