"""The audit trail: hash-chained events of every state change, per tenant.

Public for other modules: ``audit.repository`` (``record``, ``record_system``).
"""
