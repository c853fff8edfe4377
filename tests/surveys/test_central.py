"""A form published at central reaches the box with its media; a submission made as
ODK Collect makes it reaches central through a faulty link with its photo and audio;
central shows it (photo, playable audio) and exports it in French."""

from __future__ import annotations

import csv
import io
import re
import uuid

import pytest

from tests.central.harness import (
    CentralServer,
    FaultProxy,
    box_options,
    central_call,
    enrol_box,
    make_central,
)
from tests.support import LiveServer

from .xlsforms import JPEG, Collect, submission_xml

PASSWORD = "correct horse battery"
OGG = b"OggS" + bytes(range(200))


@pytest.fixture
def central(tmp_path):
    app = make_central(tmp_path / "central")
    with CentralServer(app) as server:
        server.app = app
        yield server


def sync_until_done(site, url, faults) -> int:
    """Runs of the box's sync through a link that fails as ``faults`` says, until one
    completes; returns how many runs it took."""
    from appliance.sync.client import CentralRefused, SyncClient
    from appliance.sync.transport import LinkError

    with FaultProxy(url, faults) as proxy:  # one link: its faults numbered across runs
        for attempt in range(1, 21):
            try:
                with SyncClient(box_options(site, proxy.url)) as client:
                    if client.run(force=True).result == "ok":
                        return attempt
            except (LinkError, CentralRefused):  # a cut link: the next run resumes
                continue
    raise AssertionError("the sync never completed")


def test_form_down_submission_up_through_a_faulty_link_then_shown_and_exported(
    app, db, central, form_file, tmp_path
):
    from central import surveys as central_surveys
    from central.models import Region
    from central.surveys import SurveyAttachment, SurveySubmission
    from surveys import digest, forms

    site = app.config["SITE"]
    enrol_box(central.app, central.url, app.config["DATA_DIR"])
    region = central_call(central.app, Region.get, Region.name == "Kayes")
    central_call(central.app, central_surveys.publish, form_file, region)

    faults = {0: ("cut_down", 40), 2: "drop_response", 4: ("cut_up", 100)}
    assert sync_until_done(site, central.url, lambda i: faults.get(i, "pass")) >= 2
    [form] = forms.forms()
    assert (form["form_id"], form["origin"], form["media"]) == ("menage", "central", 1)

    digest.add_enumerator("moussa", "secret-123")
    with LiveServer(app) as box:
        collect = Collect(box.url + "/odk", "moussa", "secret-123")
        manifest = collect.request("GET", "/forms/menage/manifest")[2]
        assert b"logo.png" in manifest
        instance = f"uuid:{uuid.uuid4()}"
        xml = submission_xml(instance=instance, nom="Awa Traoré", photo="photo.jpg")
        xml = xml.replace(b"<voix/>", b"<voix>voix.ogg</voix>")
        status, _, _ = collect.submit(
            xml, [("photo.jpg", "image/jpeg", JPEG), ("voix.ogg", "audio/ogg", OGG)]
        )
        assert status == 201

    runs = sync_until_done(
        site, central.url, lambda i: {1: ("cut_down", 60), 3: "drop_response"}.get(i, "pass")
    )
    assert runs >= 2  # the first run was cut
    subs = central_call(
        central.app, lambda: [(s.instance_id, s.form_id) for s in SurveySubmission.select()]
    )
    assert subs == [(instance, "menage")]
    atts = central_call(
        central.app, lambda: sorted((a.name, a.mime, a.id) for a in SurveyAttachment.select())
    )
    assert [a[:2] for a in atts] == [("photo.jpg", "image/jpeg"), ("voix.ogg", "audio/ogg")]

    from central import service

    central_call(central.app, service.create_admin, "awa", PASSWORD, "regional", "Kayes")
    client = central.app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert (
        client.post(
            "/login", data={"username": "awa", "password": PASSWORD, "csrf": token}
        ).status_code
        == 302
    )
    table = client.get("/surveys/menage").get_data(as_text=True)
    assert "Taille du ménage" in table and "Awa Traoré" in table
    photo_id = atts[0][2]
    assert f'<img src="/surveys/attachments/{photo_id}"' in table
    assert "<audio controls" in table
    with client.get(f"/surveys/attachments/{photo_id}") as photo:
        assert photo.status_code == 200 and photo.data == JPEG
        assert photo.headers["Content-Type"] == "image/jpeg"

    export = client.get("/surveys/menage.csv")
    assert export.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(export.data.decode("utf-8-sig")), delimiter=";"))
    header = rows[0]
    assert "Nom du chef de ménage" in header and "Taille du ménage" in header
    assert rows[1][header.index("Taille du ménage")] == "6"
    assert rows[1][header.index("Nom du chef de ménage")] == "Awa Traoré"


def test_central_refuses_an_invalid_form_with_its_line(central, tmp_path, java):
    from central import surveys as central_surveys

    from .xlsforms import write_xlsform

    bad = write_xlsform(
        tmp_path / "bad.xlsx",
        form_id="bad",
        media={},
        survey=[
            ["type", "name", "label", "constraint"],
            ["text", "a", "A", ""],
            ["integer", "b", "B", ". > > 1"],
        ],
    )
    with pytest.raises(central_surveys.FormRefused) as e:
        central_call(central.app, central_surveys.publish, bad, None)
    assert e.value.line == 3 and e.value.sheet == "survey"


def test_columns_are_the_form_questions_in_order_with_their_labels():
    from central.surveys_views import questions

    xml = (
        '<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml">'
        '<h:head><model><instance><data id="f"><a/><g><b/></g><meta><instanceID/></meta>'
        '</data></instance></model></h:head><h:body><input ref="/data/a"><label>Â</label>'
        "</input></h:body></h:html>"
    )
    assert questions(xml) == [("/data/a", "Â"), ("/data/g/b", "b")]
