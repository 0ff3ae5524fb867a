"""A local fake Microsoft 365 tenant (`lintel tenant`): Entra ID v2 sign-in (device code flow,
refresh tokens), Graph v1.0 for room mailboxes (calendars, room lists, getSchedule, sendMail),
an admin API for tests, fault injection and an optional CONNECT proxy.

Modules: server (HTTPS, routing, request log, faults), ca (CA, server certificate, signing key),
store (SQLite state), seed (seed files), identity (Entra v2), graph (Graph v1.0), admin
(/_admin/), proxy (the CONNECT proxy), cli (the verb).
"""
