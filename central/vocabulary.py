"""The names of the ids boxes send (themes, age groups, session types...), for people.

Each id has an English name (a msgid: pages show it in the reader's language) and a
French one, which the CSV exports use as they are: a spreadsheet has no language
switch, and the regional admins and their donors read French (issue 15). An id this
table does not know (a theme a site added in its site file) is shown as it is.
"""

from __future__ import annotations

from .i18n import _l

# The box's default themes (appliance/board/messages.py THEME_LABELS).
THEMES = {
    "health": (_l("Health"), "Santé"),
    "sanitation": (_l("Sanitation"), "Assainissement"),
    "water": (_l("Water"), "Eau"),
    "education": (_l("Education"), "Éducation"),
    "youth": (_l("Youth"), "Jeunesse"),
    "womens_rights": (_l("Women's rights"), "Droits des femmes"),
    "taxes": (_l("Taxes"), "Impôts et taxes"),
    "land": (_l("Land"), "Foncier"),
    "security": (_l("Security"), "Sécurité"),
    "other": (_l("Other"), "Autre"),
}

# The board's age groups and the programme's (appliance/board/models.py,
# appliance/programme/models.py).
AGE_GROUPS = {
    "under18": (_l("Under 18"), "Moins de 18 ans"),
    "18-35": (_l("18 to 35"), "18 à 35 ans"),
    "36-60": (_l("36 to 60"), "36 à 60 ans"),
    "over60": (_l("Over 60"), "Plus de 60 ans"),
    "under35": (_l("Under 35"), "Moins de 35 ans"),
    "35plus": (_l("35 and over"), "35 ans et plus"),
}

GENDERS = {"f": (_l("Woman"), "Femme"), "m": (_l("Man"), "Homme")}

# appliance/programme/models.py KINDS
SESSION_KINDS = {
    "training": (_l("Training"), "Formation"),
    "mooc_group": (_l("MOOC group"), "Groupe MOOC"),
    "debate": (_l("Debate"), "Débat"),
    "officials_meeting": (_l("Meeting with officials"), "Rencontre avec les élus"),
    "other": (_l("Other"), "Autre"),
}

POST_KINDS = {"question": (_l("Question"), "Question"), "proposal": (_l("Proposal"), "Proposition")}

STATUSES = {
    "open": (_l("Waiting for an answer"), "En attente de réponse"),
    "answered": (_l("Answered"), "Répondu"),
    "hidden": (_l("Hidden"), "Masqué"),
}

METRICS = {
    "visits": (_l("Visits"), "Visites"),
    "views": (_l("Content views"), "Consultations de contenus"),
    "bookings": (_l("Bookings"), "Réservations"),
    "attendance": (_l("Attendance"), "Présences"),
    "posts": (_l("Posts"), "Publications"),
    "sms_posts": (_l("Posts by SMS"), "Publications par SMS"),
    "sms_bookings": (_l("Bookings by SMS"), "Réservations par SMS"),
}


def english(table: dict, value: str) -> str:
    """The name of ``value`` in the reader's language (English being the msgid), or
    ``value`` itself."""
    return str(table[value][0]) if value in table else value


def french(table: dict, value: str) -> str:
    """The French name of ``value`` for an export, or ``value`` itself ('' stays '')."""
    return table[value][1] if value in table else value
