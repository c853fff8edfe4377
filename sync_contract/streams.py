"""The outbox's priority classes, most urgent first (the sync protocol's ``push``).

Kept apart from :mod:`sync_contract.protocol` so that the web process, which only
appends events, does not load zstandard and cryptography (about 14 MB) to read a tuple.
"""

STREAMS = ("civic", "blob", "usage", "content")  # most urgent first
