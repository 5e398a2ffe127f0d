"""Runtime shared by every generated module: structs, operation specs, service base classes."""
