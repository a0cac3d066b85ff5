"""Servanda Office: contract drafting for German-speaking law firms and legal publishers."""

__version__ = "0.1.0"
