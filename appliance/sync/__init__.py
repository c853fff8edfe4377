"""Opportunistic sync with central: the protocol (shared with central), the client,
its budget and windows, enrolment, resumable blobs and downloads, USB export/import."""
