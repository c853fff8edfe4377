"""``espace course``: build a course ZIM from a trainer's folder."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("course")
def course_group() -> None:
    """Courses for learning groups (docs/learning.md)."""


@course_group.command("build")
@click.argument("folder", type=click.Path(file_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
def build_cmd(folder: str, out: str) -> None:
    """Build the course ZIM OUT from FOLDER (course.toml, lessons, media)."""
    from .course import build

    course = build(Path(folder), Path(out))
    lessons = course.lessons()
    exercises = sum(len(x.exercises) for x in lessons)
    click.echo(
        f"{out}: course {course.id!r}, {len(course.modules)} module(s), "
        f"{len(lessons)} lesson(s), {exercises} exercise(s)"
    )
