"""README's example project: its handler module (served by tests/test_readme_events.py) and its
search module (run by tests/test_readme_search.py), type-checked by `make lint` exactly as README
shows them."""
