"""The Surveys tab: an XLSForm uploaded with its media, a refusal naming the line, the
count of submissions per form, enumerator accounts; only for a logged-in facilitator."""

from __future__ import annotations

import io
import uuid

from tests.support import csrf, kiosk_login

from .xlsforms import PNG, submission_xml, write_xlsform


def test_upload_count_and_enumerators_at_the_kiosk(client, db, app, tmp_path, java):
    from surveys import submissions

    assert client.get("/kiosk/surveys/").status_code in (302, 303)  # login first
    kiosk_login(client)
    token = csrf(client)
    form = write_xlsform(tmp_path / "k" / "menage.xlsx", media={})
    resp = client.post(
        "/kiosk/surveys/import",
        data={
            "csrf": token,
            "xlsform": (io.BytesIO(form.read_bytes()), "menage.xlsx"),
            "media": [(io.BytesIO(PNG), "logo.png")],
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert resp.status_code == 200
    assert "is offered to phones" in resp.get_data(as_text=True)

    bad = write_xlsform(
        tmp_path / "b" / "bad.xlsx",
        form_id="bad",
        media={},
        survey=[["type", "name", "label"], ["text", "a", "A"], ["calculate", "c", ""]],
    )
    page = client.post(
        "/kiosk/surveys/import",
        data={"csrf": token, "xlsform": (io.BytesIO(bad.read_bytes()), "bad.xlsx")},
        content_type="multipart/form-data",
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Form refused" in page and "line 3" in page

    data_dir = app.config["SITE"].data_dir
    for _ in range(3):
        submissions.store(data_dir, submission_xml(instance=f"uuid:{uuid.uuid4()}"), [])
    page = client.get("/kiosk/surveys/").get_data(as_text=True)
    assert 'data-form="menage">3</span>' in page and "Enquête ménage" in page
    assert f"http://{app.config['SITE'].hotspot.address}/odk" in page

    resp = client.post(
        "/kiosk/surveys/enumerators",
        data={"csrf": token, "username": "fatou", "password": "motdepasse"},
        follow_redirects=True,
    )
    assert "fatou" in resp.get_data(as_text=True)
    # no CSRF token: refused
    assert (
        client.post(
            "/kiosk/surveys/enumerators", data={"username": "eve", "password": "motdepasse"}
        ).status_code
        == 400
    )


def test_the_tab_is_not_on_the_phones_listener(client, db):
    from appliance.server import HOTSPOT, LISTENER_KEY

    kiosk_login(client)
    assert client.get("/kiosk/surveys/", environ_base={LISTENER_KEY: HOTSPOT}).status_code == 404
