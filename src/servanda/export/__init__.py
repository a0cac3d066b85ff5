"""Export: export jobs, style templates, renderers, worker tasks.

Public for other modules: ``export.repository`` (style template lookups).
"""
