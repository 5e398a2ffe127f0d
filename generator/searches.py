"""Extended searches, found in a settled model: which filters a request has, what each filters.

A search is an operation whose request has lists of condition structs (`field`, `op`, `value`,
`in`, `not`: PortaBilling's SearchCondition) named `<entity>_filter`, and whose reply pages
records. Each filter is paired with the record field of the entity it names (`customer_filter`
with the record's `CustomerInfo`, `invoice_filter` with its list of `InvoiceInfo`): by the item
type's name (`<Entity>Info`), else by the field's name (`<entity>`, `<entity>s`,
`<entity>_info`). The entity's filterable fields are that type's single scalar fields (text,
numbers, dates, datetimes, flags, enums). Rendering writes the vocabulary from this; drift and
impact read it to say which searches a change touches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .model import XSD_NS, Field, Model, Operation, TypeDef, TypeGraph
from .naming import class_name, method_name
from .pytypes import XSD_PY, PySpelling

# the SearchCondition fields the runtime writes (`templates/runtime/search.py`)
CONDITION_FIELDS = frozenset({"field", "op", "value", "in", "not"})
FILTER_SUFFIX = "_filter"
ORDERED = frozenset({"int", "float", "Decimal", "date", "datetime", "time"})
# names of the runtime's Entity (its classmethod, its class variables) that fields must not take
ENTITY_RESERVED = frozenset({"filter", "FILTER"})


@dataclass
class SearchField:
    python_name: str  # the attribute on the entity class
    wire_name: str
    value_type: str  # the annotation of a value: `str`, `int`, `Decimal | int`, `YesNo`...
    runtime_kind: str  # what the runtime checks a value against: `str`, `Decimal`, `YesNo`...
    field_class: str  # Text, Ordered or Field
    enum: TypeDef | None = None


@dataclass
class SearchEntity:
    class_name: str  # in the generated `search` module: `Customer`
    filter: str  # the request field it fills (its Python name): `customer_filter`
    record_field: str  # the record's field holding it: `customer_info`
    record_type: TypeDef  # `CustomerInfo`
    fields: list[SearchField] = field(default_factory=list)


@dataclass
class Search:
    interface: str
    service: str
    operation: Operation
    request: TypeDef
    condition: TypeDef  # the condition struct the filters hold
    record: TypeDef  # the paged record type
    constant: str = ""  # the module constant of the `Search` spec: `EXTENDED_DATA`
    alias: str = ""  # the union of its entities' conditions: `ExtendedDataCondition`
    method: str = ""  # the service's method: `search`
    iter_method: str = ""  # ... and its pager: `iter_search`
    entities: list[SearchEntity] = field(default_factory=list)
    flags: list[Field] = field(default_factory=list)  # the request's other fields


def find_searches(model: Model) -> list[Search]:
    """Every search of the model, in interface/service/operation order, named for rendering."""
    graph = model.graph()
    spelling = PySpelling(graph)
    found: list[Search] = []
    for iface in model.interfaces:
        for svc in iface.services:
            taken = {op.python_name for op in svc.operations} | {
                op.iter_name for op in svc.operations if op.iter_name
            }
            in_service = [s for op in svc.operations if (s := _search(op, graph)) is not None]
            for s in in_service:
                s.interface, s.service = iface.name, svc.name
                base = "search" if len(in_service) == 1 else "search_" + _noun(s.operation)
                s.method = method_name(base, taken)
                s.iter_method = method_name("iter_" + s.method, taken)
                taken |= {s.method, s.iter_method}
            found.extend(in_service)
    _name(found, model, spelling)
    return found


def _noun(op: Operation) -> str:
    name = op.python_name.removeprefix("get_").removesuffix("_list")
    return name or op.python_name


def _search(op: Operation, graph: TypeGraph) -> Search | None:
    request = graph.get(op.request_type)
    response = graph.get(op.response_type)
    if request is None or response is None or not op.pageable:
        return None
    record = _page_record(response, op, graph)
    if record is None:
        return None
    filters: list[tuple[Field, TypeDef]] = []
    for f in graph.all_fields(request):
        cond = _list_item(f, graph)
        if (
            cond is not None
            and f.wire_name.endswith(FILTER_SUFFIX)
            and {x.wire_name for x in graph.all_fields(cond)} >= CONDITION_FIELDS
        ):
            filters.append((f, cond))
    if not filters or len({c.id for _, c in filters}) != 1:
        return None
    search = Search("", "", op, request, filters[0][1], record)
    filter_names = {f.wire_name for f, _ in filters}
    search.flags = [f for f in graph.all_fields(request) if f.wire_name not in filter_names]
    for f, _ in filters:
        entity = f.wire_name.removesuffix(FILTER_SUFFIX)
        paired = _pair(entity, record, graph)
        if paired is not None:
            record_field, record_type = paired
            search.entities.append(SearchEntity("", f.python_name, record_field, record_type))
    return search if search.entities else None


def _page_record(response: TypeDef, op: Operation, graph: TypeGraph) -> TypeDef | None:
    page = next((f for f in graph.all_fields(response) if f.wire_name == op.page_field), None)
    return _list_item(page, graph) if page is not None else None


def _list_item(f: Field, graph: TypeGraph) -> TypeDef | None:
    """The struct a list field holds (a repeated field or a one-dimensional array type)."""
    t = graph.get(f.type)
    if t is not None and t.kind == "array" and t.dimensions == 1:
        t = graph.get(t.item_type)
    elif not f.repeated:
        return None
    return t if t is not None and t.kind == "struct" else None


def _pair(entity: str, record: TypeDef, graph: TypeGraph) -> tuple[str, TypeDef] | None:
    """The record field an `<entity>_filter` filters: by its (item) type's name, else its name."""
    candidates: list[tuple[Field, TypeDef]] = []
    for f in graph.all_fields(record):
        t = graph.get(f.type)
        if t is not None and t.kind == "array":
            t = graph.get(t.item_type)
        if t is not None and t.kind == "struct":
            candidates.append((f, t))
    wanted_type = class_name(entity) + "Info"
    for f, t in candidates:
        if t.name == wanted_type:
            return f.wire_name, t
    names = {entity, entity + "s", entity + "_info"}
    for f, t in candidates:
        if f.wire_name in names:
            return f.wire_name, t
    return None


def _name(found: list[Search], model: Model, spelling: PySpelling) -> None:
    """Class and constant names of the `search` module: one entity class per (filter, record
    type), unique among themselves and the type names the module imports."""
    taken = {t.python_name for t in model.types}
    entities: dict[tuple[str, str], SearchEntity] = {}
    constants: set[str] = set()
    for s in found:
        for i, e in enumerate(s.entities):
            key = (e.filter, e.record_type.id)
            if key in entities:
                s.entities[i] = entities[key]
                continue
            e.class_name = class_name(e.filter.removesuffix(FILTER_SUFFIX), taken)
            e.fields = _fields(e.record_type, spelling)
            entities[key] = e
        noun = class_name(_noun(s.operation))
        s.alias = class_name(noun + "Condition", taken)
        constant = noun_constant = "_".join(w.upper() for w in _words(_noun(s.operation)))
        n = 2
        while constant in constants:
            constant = f"{noun_constant}_{n}"
            n += 1
        constants.add(constant)
        s.constant = constant


def _words(snake: str) -> list[str]:
    return [w for w in snake.split("_") if w]


def _fields(record: TypeDef, spelling: PySpelling) -> list[SearchField]:
    out: list[SearchField] = []
    for f in spelling.graph.all_fields(record):
        if f.repeated:
            continue
        python_name = f.python_name + "_" if f.python_name in ENTITY_RESERVED else f.python_name
        ref = spelling.graph.underlying(f.type, ("alias",))
        t = spelling.graph.get(ref)
        if t is not None:
            if t.kind == "enum" and spelling.enum_base(t) is not None:
                out.append(
                    SearchField(python_name, f.wire_name, t.python_name, t.python_name, "Field", t)
                )
            continue  # structs and arrays: not a filter's field
        if not ref.startswith("{" + XSD_NS + "}"):
            continue
        py = XSD_PY.get(ref.rpartition("}")[2], "str")
        if py == "bytes":
            continue
        if py == "str":
            out.append(SearchField(python_name, f.wire_name, "str", "str", "Text"))
        elif py in ORDERED:
            value = "Decimal | int" if py == "Decimal" else py
            out.append(SearchField(python_name, f.wire_name, value, py, "Ordered"))
        else:
            out.append(SearchField(python_name, f.wire_name, py, py, "Field"))
    return out


def search_fields(model: Model, scope: set[str] | None = None) -> dict[str, list[tuple[str, str]]]:
    """The (entity class, attribute) pairs of the `search` module that filter on each field of
    a record type, keyed `Type.field` (searches of the interfaces in `scope`, default all):
    what drift and impact say a changed field also breaks."""
    out: dict[str, list[tuple[str, str]]] = {}
    for s in find_searches(model):
        if scope is not None and s.interface not in scope:
            continue
        for e in s.entities:
            for f in e.fields:
                pairs = out.setdefault(f"{e.record_type.name}.{f.wire_name}", [])
                if (e.class_name, f.python_name) not in pairs:
                    pairs.append((e.class_name, f.python_name))
    return out
