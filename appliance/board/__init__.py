"""The citizens' board: questions and proposals to elected officials, by text or voice.

:mod:`.models` maps the tables of migration m0002; :mod:`.rules` holds every rule
(posting, supports, answers, flags, moderation, merges) as plain functions that the
portal, the kiosk, the CLI and the tests all call.
"""
