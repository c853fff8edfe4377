"""Central's login as an attacker tries it, on SQLite and PostgreSQL: throttling per user
name and per address that never locks the real admin out, no timing difference for
unknown names, failed logins audited, `next` kept on-site, sessions that logout and a
password change really end, enrolment codes throttled."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid

import pytest
import werkzeug.security

from central import auth, service
from central.models import Admin, Audit, LoginFailure
from sync_contract import protocol
from tests.central.test_central_admin import PASSWORD, seed


def token(client):
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def attempt(client, username, password, next_=None, address="192.0.2.10"):
    path = "/login" if next_ is None else f"/login?next={next_}"
    return client.post(
        path,
        data={"username": username, "password": password, "csrf": token(client)},
        environ_base={"REMOTE_ADDR": address},
    )


def test_a_name_is_throttled_but_its_owner_still_gets_in(call, capp):
    seed(call, capp)
    owner = capp.test_client()
    assert attempt(owner, "awa", PASSWORD, address="198.51.100.7").status_code == 302
    owner.post("/logout", data={"csrf": token(owner)})
    attacker = capp.test_client()
    for n in range(auth.USER_LIMIT):
        assert attempt(attacker, "awa", f"guess {n}", address=f"203.0.113.{n}").status_code == 401
    # The name is locked for browsers that never logged in as it, right password or not.
    assert attempt(attacker, "awa", PASSWORD, address="203.0.113.99").status_code == 429
    assert attempt(capp.test_client(), "awa", PASSWORD).status_code == 429
    # Its owner's browser carries the device cookie: still in.
    assert attempt(owner, "awa", PASSWORD, address="198.51.100.7").status_code == 302
    # And the lock ends with its window.
    old = service.utcnow() - dt.timedelta(minutes=16)
    call(lambda: LoginFailure.update(at=old).execute())
    assert attempt(capp.test_client(), "awa", PASSWORD).status_code == 302


def test_an_address_is_throttled_across_names(call, capp):
    seed(call, capp)
    client = capp.test_client()
    for n in range(auth.ADDRESS_LIMIT):
        assert attempt(client, f"nobody{n}", "x" * 10).status_code == 401
    assert attempt(client, "nat", PASSWORD).status_code == 429
    assert attempt(client, "nat", PASSWORD, address="192.0.2.11").status_code == 302


def test_failed_logins_are_audited_and_names_cost_the_same(call, capp, monkeypatch):
    seed(call, capp)
    checks = []
    real = werkzeug.security.check_password_hash
    monkeypatch.setattr(
        werkzeug.security, "check_password_hash", lambda h, p: checks.append(h) or real(h, p)
    )
    client = capp.test_client()
    attempt(client, "awa", "wrong password")
    attempt(client, "ghost", "wrong password")
    # One password hash checked for a known name and one for an unknown one.
    assert len(checks) == 2
    failed = call(lambda: [a.detail for a in Audit.select().where(Audit.action == "login.failed")])
    assert len(failed) == 2 and "'ghost'" in failed[1] and "192.0.2.10" in failed[1]


@pytest.mark.parametrize(
    "target",
    [
        "/%09/evil.example",
        "//evil.example",
        "/\\evil.example",
        "https://evil.example/",
        "/%0d%0aSet-Cookie:%20x=1",
        "/%0aevil",
    ],
)
def test_next_stays_on_site(call, capp, target):
    seed(call, capp)
    resp = attempt(capp.test_client(), "awa", PASSWORD, next_=target)
    assert resp.status_code == 302 and resp.location == "/"


def test_next_on_site_is_kept(call, capp):
    seed(call, capp)
    resp = attempt(capp.test_client(), "awa", PASSWORD, next_="/board?status=open")
    assert resp.status_code == 302 and resp.location == "/board?status=open"


def test_logout_ends_the_session_even_for_a_copied_cookie(call, capp):
    seed(call, capp)
    client = capp.test_client()
    assert attempt(client, "awa", PASSWORD).status_code == 302
    thief = capp.test_client()
    thief.set_cookie("central_session", client.get_cookie("central_session").value)
    assert thief.get("/").status_code == 200
    client.post("/logout", data={"csrf": token(client)})
    assert thief.get("/").status_code == 302
    assert client.get("/").status_code == 302


def test_a_password_change_ends_every_session(call, capp):
    seed(call, capp)
    client = capp.test_client()
    assert attempt(client, "awa", PASSWORD).status_code == 302
    assert client.get("/").status_code == 200
    call(lambda: auth.change_password(Admin.get(Admin.username == "awa"), "new password 42"))
    assert client.get("/").status_code == 302
    assert attempt(client, "awa", PASSWORD).status_code == 401
    assert attempt(client, "awa", "new password 42").status_code == 302


def test_enrolment_codes_are_throttled(call, capp):
    _site, code = call(service.create_site, "nioro", "Espace Nioro", "Kayes", ["Nioro"])
    key = protocol.new_private_key()
    body = {"box_id": str(uuid.uuid4()), "public_key": protocol.public_b64(key)}
    client = capp.test_client()
    codes = [
        client.post(
            protocol.PATH_ENROLL,
            data=json.dumps(dict(body, code=f"AAAA-{n:04}")),
            environ_base={"REMOTE_ADDR": "203.0.113.5"},
        ).status_code
        for n in range(auth.ENROL_LIMIT + 5)
    ]
    assert codes == [403] * auth.ENROL_LIMIT + [429] * 5
    # Another address with the right code still enrols.
    assert (
        client.post(
            protocol.PATH_ENROLL,
            data=json.dumps(dict(body, code=code)),
            environ_base={"REMOTE_ADDR": "198.51.100.9"},
        ).status_code
        == 200
    )
    # A JSON list where an object is expected is a 400, not a 500.
    assert client.post(protocol.PATH_ENROLL, data="[1, 2]").status_code == 400


def test_csv_cells_are_text_and_empty_stays_empty():
    from central.admin import csv_cell

    assert csv_cell("") == ""
    assert csv_cell("\t=cmd|' /C calc'!A0") == "'\t=cmd|' /C calc'!A0"
    assert csv_cell("\r@SUM(1)") == "'\r@SUM(1)"
    assert csv_cell("  =1+1") == "'  =1+1"
    assert [csv_cell(c) for c in ("=1", "+1", "-1", "@x")] == ["'=1", "'+1", "'-1", "'@x"]
    assert csv_cell("Bamako 2026") == "Bamako 2026" and csv_cell(12) == 12
    assert csv_cell(None) is None
