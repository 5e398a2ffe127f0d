"""fetch-cache -> parse (zeep, OpenAPI) -> analyze -> Model. Rendering takes it from there."""

from __future__ import annotations

from collections.abc import Callable

from .analyze import build_model
from .cache import InputSet, files_hash
from .model import Model
from .parse_openapi import ParsedOpenApi, load_openapi
from .parse_wsdl import ParsedWsdl, WsdlParser

Progress = Callable[[str, int, int], None]


def load_model(inputs: InputSet, progress: Progress | None = None) -> Model:
    parser = WsdlParser(inputs.root, inputs.url_map)
    parsed: list[tuple[str, ParsedWsdl]] = []
    total = len(inputs.wsdls) + len(inputs.openapi)
    for i, (interface, path) in enumerate(inputs.wsdls):
        if progress:
            progress(inputs.display(path), i, total)
        parsed.append((interface, parser.parse(path, interface)))
    openapi: dict[str, ParsedOpenApi] = {}
    for j, interface in enumerate(sorted(inputs.openapi)):
        path = inputs.openapi[interface]
        if progress:
            progress(inputs.display(path), len(inputs.wsdls) + j, total)
        openapi[interface] = load_openapi(path, inputs.display(path))
    if progress:
        progress("", total, total)
    source_hash = inputs.manifest_hash or files_hash(
        [*parser.files_read(), *inputs.openapi.values()], inputs.root
    )
    release = inputs.release or next((o.release for o in openapi.values() if o.release), "")
    return build_model(parsed, openapi, release=release, source_hash=source_hash)
