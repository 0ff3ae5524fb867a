"""A local fake Microsoft 365 tenant (`lintel tenant`): Entra ID v2 sign-in (device code flow,
refresh tokens), an admin API for tests, fault injection; Graph v1.0 plugs in as one more module.

Modules: server (HTTPS, routing, request log, faults), ca (CA, server certificate, signing key),
store (SQLite state), seed (seed files), identity (Entra v2), admin (/_admin/), cli (the verb).
"""
