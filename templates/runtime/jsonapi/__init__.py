"""The JSON API codec: `encode` (request params) and `decode` (replies), over msgspec."""
