"""Contracts: contract instances with version pins, the interview, law-firm templates.

No other module imports contracts (the app and the CLI register and call it).
"""
