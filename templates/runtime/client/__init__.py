"""The client wing: `Client` and `AsyncClient` (`clients`), the core they share (`core`), the
call flow (`flow`), the session (`session`), the transports (`transport`), per-call options
(`options`), the stubs' base classes (`service`) and the connection pool (`pool`)."""
