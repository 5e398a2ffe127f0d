"""One exception type for everything the user must fix in the input, so the CLI can exit 2 with one line."""

from __future__ import annotations


class GeneratorError(Exception):
    """Bad input: says which file, line and element, and what is wrong."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        element: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.element = element
        super().__init__(self.format())

    def format(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "")
        if self.element:
            where = f"{where} <{self.element}>" if where else f"<{self.element}>"
        return f"{where}: {self.message}" if where else self.message
