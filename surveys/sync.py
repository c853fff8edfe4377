"""What the box does with the forms central publishes (``survey.form``)."""

from __future__ import annotations

from pathlib import Path

from sync_contract import kinds


def register_sync(registry) -> None:
    from . import forms

    registry.add(
        kinds.SURVEY_FORM,
        lambda payload, options: forms.from_central(Path(options.data_dir), payload),
    )
