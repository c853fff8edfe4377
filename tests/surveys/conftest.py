from __future__ import annotations

import pytest

from tests.support import LiveServer, require_program

from .xlsforms import Collect, write_xlsform


@pytest.fixture(scope="session")
def java():
    require_program("java", "default-jre-headless")


@pytest.fixture
def form_file(tmp_path, java):
    return write_xlsform(tmp_path / "usb" / "menage.xlsx")


@pytest.fixture
def box(app, db, form_file):
    """The box with the household form imported and an enumerator, served on loopback."""
    from surveys import digest, forms

    forms.import_xlsform(app.config["SITE"].data_dir, form_file)
    digest.add_enumerator("moussa", "secret-123")
    # The body limit the box's own server sets (appliance.server): waitress refuses
    # a larger body from its headers, before reading it.
    server = LiveServer(app, max_request_body_size=app.config["MAX_CONTENT_LENGTH"] + 65536)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def collect(box):
    return Collect(box.url + "/odk", "moussa", "secret-123")
