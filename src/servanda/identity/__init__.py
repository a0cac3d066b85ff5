"""Identity: authentication (local provider, OIDC, tokens, passwords, TOTP), users, teams, access.

Public for other modules: ``identity.principal`` (the principal and permissions),
``identity.repository`` (user and team reads), and for endpoint files only
``identity.dependencies`` (FastAPI glue: ``allow``, ``CurrentPrincipal``).
"""
