"""Mixed load test with locust (issue 15): `python -m bench.load`, see __main__.py."""
