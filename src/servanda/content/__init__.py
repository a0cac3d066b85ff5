"""Content library: clauses, templates, versions, publishing, catalog, content packs.

Public for other modules: ``content.published`` (templates and versions as values,
for contract pinning) and ``content.schemas`` (its API types, e.g. ``Tag``).
"""
