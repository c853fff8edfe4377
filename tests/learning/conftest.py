"""A box with the test course installed in its library directory."""

from __future__ import annotations

import pytest

from tests.learning.course_folder import write_course


@pytest.fixture
def course_app(app, tmp_path):
    from learning import course

    content = app.config["SITE"].content_dir
    content.mkdir(parents=True, exist_ok=True)
    course.build(write_course(tmp_path / "alpha"), content / "alpha-1.zim")
    return app
