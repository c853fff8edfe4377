"""What the box does with the forms central publishes (``survey.form``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sync_contract import kinds


def _form(payload: dict, options: Any) -> str:
    from . import forms  # when a form comes: a sync with none never imports it

    return forms.from_central(Path(options.data_dir), payload)


def register_sync(registry) -> None:
    registry.add(kinds.SURVEY_FORM, _form)
