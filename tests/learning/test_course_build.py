"""``espace course build``: a trainer's folder becomes a course ZIM (checked by opening
it with libzim), and a bad manifest is refused naming the file and field."""

from __future__ import annotations

import json

import pytest
from libzim.reader import Archive

from learning import course as course_mod
from tests.learning.course_folder import MANIFEST, OGG, write_course


def espace(capsys, monkeypatch, *args: str) -> tuple[int, str]:
    """Run the real ``espace`` entry point (its error handling included)."""
    from espace.cli import main

    monkeypatch.setattr("sys.argv", ["espace", *args])
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code or 0
    out = capsys.readouterr()
    return code, out.out + out.err


def test_build_makes_a_course_zim(tmp_path, capsys, monkeypatch):
    folder = write_course(tmp_path / "alpha")
    out = tmp_path / "alpha-1.zim"
    code, output = espace(capsys, monkeypatch, "course", "build", str(folder), str(out))
    assert code == 0, output
    assert "2 module(s), 3 lesson(s), 2 exercise(s)" in output
    z = Archive(str(out))
    assert bytes(z.get_metadata("Tags")).decode() == "mooc;_category:course"
    assert bytes(z.get_metadata("Language")).decode() == "bam"
    assert bytes(z.get_metadata("Title")).decode() == "Lire et écrire — ߞߊ߬ߙߊ߲"
    structure = json.loads(bytes(z.get_metadata(course_mod.META_KEY)))
    assert [m["title"] for m in structure["modules"]] == ["Les voyelles", "Lire"]
    choice = structure["modules"][0]["lessons"][1]["exercises"][0]
    assert choice["answer"] == 1 and choice["choices"][1]["audio"] == "media/chat.ogg"
    a = bytes(z.get_entry_by_path("lesson/a").get_item().content).decode()
    assert "<strong>a</strong>" in a and "../media/media/a.ogg" in a
    assert "<script>" not in a  # Markdown's raw HTML is escaped, never run
    item = z.get_entry_by_path("media/media/a.ogg").get_item()
    assert bytes(item.content) == OGG and item.mimetype == "audio/ogg"
    assert z.get_entry_by_path("media/media/chat.png").get_item().mimetype == "image/png"
    assert z.main_entry.get_item().path == "index"
    assert not list(tmp_path.glob(".*.building"))
    back = course_mod.read_course(out)
    assert back.id == "alpha-1" and [x.id for x in back.lessons()] == ["a", "chat", "lire"]
    # answers are in the metadata only: no entry of the ZIM (which the library serves)
    # carries them
    assert "answer" not in bytes(z.get_entry_by_path("index").get_item().content).decode()


@pytest.mark.parametrize(
    "change, where",
    [
        (lambda m: m.replace('id = "alpha-1"', 'id = "Alpha 1"'), "course.toml.id"),
        (lambda m: m.replace('title = "Les voyelles"\n', ""), "course.toml.modules[0].title"),
        (
            lambda m: m.replace("answer = 1", "answer = 5"),
            "course.toml.modules[0].lessons[1].exercises[0].answer",
        ),
        (
            lambda m: m.replace("media/q.ogg", "media/absent.ogg"),
            "course.toml.modules[0].lessons[1].exercises[0].audio",
        ),
        (
            lambda m: m.replace("media/q.ogg", "../../etc/passwd"),
            "course.toml.modules[0].lessons[1].exercises[0].audio",
        ),
        (
            lambda m: m.replace('type = "read_aloud"', 'type = "essay"'),
            "course.toml.modules[1].lessons[0].exercises[0].type",
        ),
        (lambda m: m.replace('id = "chat"', 'id = "a"'), "course.toml.modules[0].lessons[1].id"),
        (lambda m: m + "\n[[modules]\n", "course.toml: is not valid TOML"),
    ],
)
def test_a_bad_manifest_names_the_file_and_field(tmp_path, capsys, monkeypatch, change, where):
    folder = write_course(tmp_path / "c", change(MANIFEST))
    out = tmp_path / "c.zim"
    code, output = espace(capsys, monkeypatch, "course", "build", str(folder), str(out))
    assert code != 0
    assert output.startswith("espace: error: ") and f"{where}" in output, output
    assert "Traceback" not in output
    assert not out.exists()


def test_unsafe_html_lesson_and_wrong_encoding_are_refused(tmp_path):
    folder = write_course(tmp_path / "c")
    (folder / "lessons" / "chat.html").write_text('<p onclick="x()">chat</p>')
    with pytest.raises(course_mod.CourseError, match="lessons/chat.html.*onclick"):
        course_mod.build(folder, tmp_path / "c.zim")
    (folder / "lessons" / "chat.html").write_bytes("<p>é</p>".encode("latin-1"))
    with pytest.raises(course_mod.CourseError, match="lessons/chat.html: is not UTF-8"):
        course_mod.build(folder, tmp_path / "c.zim")
    (folder / "course.toml").write_bytes(MANIFEST.encode("utf-16"))
    with pytest.raises(course_mod.CourseError, match="course.toml: is not UTF-8"):
        course_mod.build(folder, tmp_path / "c.zim")
    assert not (tmp_path / "c.zim").exists()
