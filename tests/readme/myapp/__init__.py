"""README's example project: its handler module, type-checked by `make lint` and served by
tests/test_readme_events.py exactly as README shows it."""
