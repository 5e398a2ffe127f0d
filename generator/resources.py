"""Where the templates and runtime sources are: inside the installed package, or in a checkout.

The wheel carries the repository's `templates/` folder as `generator/templates` (setuptools
`package-dir`); a source checkout (editable install, `python -m generator`) reads `templates/`
beside `generator/`. Nothing else of the checkout is ever read.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent
_INSTALLED = _HERE / "templates"
_CHECKOUT = _HERE.parent / "templates"

TEMPLATES = _INSTALLED if (_INSTALLED / "package_init.py.jinja").is_file() else _CHECKOUT
RUNTIME = TEMPLATES / "runtime"
