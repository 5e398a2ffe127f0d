"""Version strings: the generator's, and the generated package's (generator + server release)."""

from __future__ import annotations

import re

from . import __version__


def package_version(release: str | None) -> str:
    """PEP 440: the generator version, with the server release as local label (`0.1.0+mr105`).

    A regenerated package from a newer generator sorts higher; the label says which server
    release it was made from. Without a known release it is the generator version alone.
    """
    label = ".".join(re.findall(r"[a-z0-9]+", (release or "").lower()))
    return f"{__version__}+{label}" if label else __version__
