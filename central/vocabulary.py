"""The names of the ids boxes send (themes, age groups, session types...), for people.

Each id has an English name (the msgid central's pages translate with ``_()``) and a
French one, which the CSV exports use as they are: a spreadsheet has no language
switch, and the regional admins and their donors read French (issue 15). An id this
table does not know (a theme a site added in its site file) is shown as it is.
"""

from __future__ import annotations

# The box's default themes (appliance/board/messages.py THEME_LABELS).
THEMES = {
    "health": ("Health", "Santé"),
    "sanitation": ("Sanitation", "Assainissement"),
    "water": ("Water", "Eau"),
    "education": ("Education", "Éducation"),
    "youth": ("Youth", "Jeunesse"),
    "womens_rights": ("Women's rights", "Droits des femmes"),
    "taxes": ("Taxes", "Impôts et taxes"),
    "land": ("Land", "Foncier"),
    "security": ("Security", "Sécurité"),
    "other": ("Other", "Autre"),
}

# The board's age groups and the programme's (appliance/board/models.py,
# appliance/programme/models.py).
AGE_GROUPS = {
    "under18": ("Under 18", "Moins de 18 ans"),
    "18-35": ("18 to 35", "18 à 35 ans"),
    "36-60": ("36 to 60", "36 à 60 ans"),
    "over60": ("Over 60", "Plus de 60 ans"),
    "under35": ("Under 35", "Moins de 35 ans"),
    "35plus": ("35 and over", "35 ans et plus"),
}

GENDERS = {"f": ("Woman", "Femme"), "m": ("Man", "Homme")}

# appliance/programme/models.py KINDS
SESSION_KINDS = {
    "training": ("Training", "Formation"),
    "mooc_group": ("MOOC group", "Groupe MOOC"),
    "debate": ("Debate", "Débat"),
    "officials_meeting": ("Meeting with officials", "Rencontre avec les élus"),
    "other": ("Other", "Autre"),
}

POST_KINDS = {"question": ("Question", "Question"), "proposal": ("Proposal", "Proposition")}

STATUSES = {"open": ("Waiting for an answer", "En attente de réponse"),
            "answered": ("Answered", "Répondu"), "hidden": ("Hidden", "Masqué")}

METRICS = {
    "visits": ("Visits", "Visites"),
    "views": ("Content views", "Consultations de contenus"),
    "bookings": ("Bookings", "Réservations"),
    "attendance": ("Attendance", "Présences"),
    "posts": ("Posts", "Publications"),
    "sms_posts": ("Posts by SMS", "Publications par SMS"),
    "sms_bookings": ("Bookings by SMS", "Réservations par SMS"),
}


def english(table: dict[str, tuple[str, str]], value: str) -> str:
    """The English name (a msgid for ``_()``) of ``value``, or ``value`` itself."""
    return table[value][0] if value in table else value


def french(table: dict[str, tuple[str, str]], value: str) -> str:
    """The French name of ``value`` for an export, or ``value`` itself ('' stays '')."""
    return table[value][1] if value in table else value
