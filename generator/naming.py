"""Wire names -> Python names: valid, readable, unique, and never shadowing what annotations use.

Wire names stay exact (they go into msgspec's `name=`); only the Python side changes. Names that
are already valid identifiers are kept as they are (`i_account`, `id`, `iso_4217`), so generated
code reads like the vendor's documentation.
"""

from __future__ import annotations

import keyword
import re

# Names a struct attribute must not take: keywords and soft keywords, and names that type
# annotations in generated modules resolve (a field named `date` would shadow `date` for mypy).
# Fixed lists, not `keyword.softkwlist`: output must not depend on the running Python version.
SOFT_KEYWORDS = frozenset({"_", "case", "match", "type"})
RESERVED_ATTRS = frozenset(
    set(keyword.kwlist)
    | SOFT_KEYWORDS
    | {
        "self",
        "str",
        "int",
        "float",
        "bool",
        "bytes",
        "list",
        "dict",
        "object",
        "date",
        "datetime",
        "time",
        "Decimal",
        "Any",
        "UNSET",
        "UnsetType",
        "Struct",
        "field",
        "ClassVar",
        "Required",  # the iterators' keyword TypedDicts in service modules annotate with it
        # the stub methods' own parameters: a request field becomes a keyword argument
        "request",
        "fields",
        "page_size",
    }
)
# Names a stub method must not take: the service classes' own members, and the decorators the
# class body applies (a method of that name would shadow them for the methods after it).
RESERVED_METHODS = frozenset(
    RESERVED_ATTRS | {"with_options", "close", "aclose", "fields_of", "paged"}
)
# Attributes of the runtime's Client/AsyncClient: a service must not shadow them.
CLIENT_ATTRS = frozenset(
    {
        "call",
        "close",
        "aclose",
        "bulk",
        "build_request",
        "decode_response",
        "auth_info",
        "transport_for",
        "base_url",
        "transport",
        "timeout",
        "retries",
        "backoff",
        "json_style",
        "json_only_over_json",
        "xml_limits",
        "interface",
        "default_port",
        "default_transport",
        "outgoing",
        "transport_of",
        "strict",
        "on_reply",
        "max_page_size",
        "deviations",
        "last_reply",
        "clear_last_reply",
    }
)
RESERVED_CLASSES = frozenset(
    {"None", "True", "False", "Struct", "Enum", "IntEnum", "Any", "Exception", "BaseException"}
    | {"OpenStrEnum", "OpenIntEnum", "Operation", "Decimal", "UnsetType", "UNSET", "ClassVar"}
    # what service modules import
    | {"ServiceSpec", "ServiceBase", "AsyncServiceBase", "Iterator", "AsyncIterator", "overload"}
    | {"TypedDict", "Required"}
)
# Module constants next to the operation constants in service modules.
RESERVED_CONSTANTS = frozenset({"UNSET", "SERVICE", "OPERATIONS"})

_INVALID = re.compile(r"[^0-9A-Za-z_]")
_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z0-9]|[^A-Za-z0-9]|$)|[A-Z]?[a-z0-9]+|[A-Z]+|[0-9]+")


def attr_name(wire: str, taken: set[str] | None = None) -> str:
    """A valid, non-reserved Python attribute for a wire name, unique within `taken`."""
    name = _INVALID.sub("_", wire)
    if not name or name.strip("_") == "":
        name = "field_" + (name or "")
        if name == "field_":
            name = "field"
    if name[0].isdigit():
        name = "field_" + name
    if name.startswith("__"):
        name = "f" + name
    if not name.isidentifier() or not name.isascii():
        name = "field_" + _INVALID.sub("_", name.encode("ascii", "replace").decode())
    if name in RESERVED_ATTRS or keyword.iskeyword(name):
        name += "_"
    return _unique(name, taken)


def method_name(wire: str, taken: set[str] | None = None) -> str:
    name = attr_name(wire)
    if name in RESERVED_METHODS:
        name += "_"
    return _unique(name, taken)


def class_name(wire: str, taken: set[str] | None = None) -> str:
    """PascalCase, keeping names that already start upper-case as they are (`AccountInfo`)."""
    if wire[:1].isupper() and wire.isidentifier() and wire.isascii():
        name = wire
    else:
        words = _WORDS.findall(_INVALID.sub(" ", wire))
        name = "".join(w[:1].upper() + w[1:] for w in words) or "Type"
    if name[0].isdigit():
        name = "T" + name
    if name in RESERVED_CLASSES or keyword.iskeyword(name):
        name += "_"
    return _unique(name, taken)


def module_name(wire: str, taken: set[str] | None = None) -> str:
    """snake_case module name: `CustomFields` -> `custom_fields`, `SIMCard` -> `sim_card`."""
    words = _WORDS.findall(_INVALID.sub(" ", wire))
    name = "_".join(w.lower() for w in words) or "module"
    if name[0].isdigit():
        name = "m_" + name
    if keyword.iskeyword(name) or name in SOFT_KEYWORDS or name in {"types", "typing"}:
        name += "_"
    return _unique(name, taken)


def constant_name(wire: str) -> str:
    """UPPER_SNAKE for enum members: `Y` stays `Y`, `-1` -> `VALUE_MINUS_1`, `in use` -> `IN_USE`."""
    text = wire.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return "VALUE_" + text.replace("-", "MINUS_").replace(".", "_")
    name = _INVALID.sub("_", text).strip("_").upper()
    name = re.sub(r"_+", "_", name)
    if not name:
        return "EMPTY"
    if name[0].isdigit():
        name = "VALUE_" + name
    if keyword.iskeyword(name) or name in {"MRO", "NAME", "VALUE"}:
        name += "_"
    return name


# A documentation text names a value when it is short: a name, not a sentence.
_DOC_NAME_WORDS = 4
_DOC_NAME_CHARS = 40


def member_name_from_doc(doc: str) -> str | None:
    """The enum member name a value's documentation gives (`debit account` -> `DEBIT_ACCOUNT`,
    `Yes / enabled` -> `YES`), or None where the text is no name (empty, a sentence, not ASCII
    letters and digits, or a name that is only a number)."""
    head = re.split(r"[/;,(.:\n]", doc.strip(), maxsplit=1)[0].strip()
    words = re.findall(r"[A-Za-z0-9]+", head)
    if not words or len(words) > _DOC_NAME_WORDS or not re.fullmatch(r"[A-Za-z0-9 _-]+", head):
        return None
    name = "_".join(w.upper() for w in words)
    if len(name) > _DOC_NAME_CHARS or name[0].isdigit():
        return None
    if keyword.iskeyword(name) or name in {"MRO", "NAME", "VALUE"}:
        name += "_"
    return name


def operation_constant(method: str, taken: set[str] | None = None) -> str:
    """The module constant of an operation: its method name upper-cased (`GET_ACCOUNT_INFO`)."""
    name = method.upper().strip("_") or "OPERATION"
    return _unique(name + "_" if name in RESERVED_CONSTANTS else name, taken)


def _unique(name: str, taken: set[str] | None) -> str:
    if taken is None:
        return name
    candidate = name
    n = 2
    while candidate in taken:
        candidate = f"{name}_{n}" if not name.endswith("_") else f"{name}{n}"
        n += 1
    taken.add(candidate)
    return candidate
