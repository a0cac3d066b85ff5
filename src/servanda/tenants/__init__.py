"""Tenants: settings and profile, plans and their limits, branding, platform administration.

Public for other modules: ``tenants.plans`` and ``tenants.repository``.
"""
