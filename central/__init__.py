"""The regional server: sync endpoint, enrolment, admin dashboard."""
