"""The programme: sessions, weekly series with exceptions, bookings, the waiting
list and attendance. Models in :mod:`.models`, rules in :mod:`.rules`,
recurrence in :mod:`.recurrence`; the portal and the kiosk only call these."""
