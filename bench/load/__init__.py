"""`python -m bench.load` (or `python3 dev.py load`): 50 leaders browse, search, page and save on the portal under
gunicorn while two rq workers sync 10,000-member groups; Locust drives the leaders. Kept out of the test suite."""
