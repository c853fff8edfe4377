"""A NUL anywhere a visitor of central can put one is a 400, never a 500: PostgreSQL
text cannot hold it, so a lookup with it raised (found by the route fuzzer)."""

from __future__ import annotations

import pytest

from central import service
from tests.central.test_central_admin import PASSWORD, login


@pytest.fixture
def admin(call, cclient):
    call(service.create_admin, "awa", PASSWORD, "regional", "Kayes")
    return login(cclient, "awa")


@pytest.mark.parametrize("path", ["/sites/%00/revoke", "/sites/a%00b/revoke"])
def test_nul_in_a_path_is_refused(cclient, admin, path):
    assert cclient.post(path, data={"csrf": admin}).status_code == 400


def test_nul_in_a_query_or_form_field_is_refused(cclient, admin):
    assert cclient.get("/board?commune=%00").status_code == 400
    assert cclient.post("/login", data={"username": "a\x00b", "password": "x"}).status_code == 400
