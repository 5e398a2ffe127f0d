"""Struct layouts for the SOAP encoder: how a struct class renders for one combination of value
types (most requests repeat a few), compiled into one straight-line function per layout.

A layout's `render` writes the whole inside of a struct: the simple fields are constant markup
around their texts (strings checked together for characters to escape, conversions inlined);
nil fields and empty arrays are constant markup; nested structs and arrays of structs call the
encoder of their class directly. Anything else (and any value a render declines: a string to
escape, a NaN, a list of unexpected items) takes the encoder's slower paths (`soap.encode`),
which write the very same bytes (a test compares them) and name the field of a bad value.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import Enum
from typing import Any, Protocol

import msgspec

from ..chars import NOT_XML
from ..errors import EncodeError
from ..struct import UnsetType
from ..validate import plan_of
from .plan import StructPlan, plan_for
from .text import FAST_TEXT, NEEDS_CARE, UNKNOWN, learn, text

# `values, writer, path, index -> the struct's inner markup`, or None: the slow path decides;
# the caller writes the struct's tags and adds its `plan.namespaces`, the render any others
Render = Callable[[tuple[Any, ...], Any, str, int], str | None]
# `writer, struct, path, index -> the struct's inner markup` (always: it falls back itself)
Encoder = Callable[[Any, Any, str, int], str]


class Hooks(Protocol):
    """What a render needs from the encoder (`soap.encode`), which imports this module."""

    def encoder(self, cls: type) -> Encoder: ...  # the encoder of a struct class

    def piece(
        self, w: Any, plan: StructPlan, cls: type, i: int, values: tuple[Any, ...], path: str
    ) -> str:
        """`plan.fields[i]` of `values` written field by field (the generic path)."""
        ...

    def constant(self, wire: str, value: Any, spec: Any) -> tuple[str, frozenset[str]]:
        """The markup of a field whose value is fixed (None, []) and the namespaces it uses."""
        ...

    def array_type(self, spec: Any) -> tuple[str, str]:
        """A SOAP-ENC array's (`prefix:Item[]...`, namespace) without its length."""
        ...


@dataclass(frozen=True, slots=True)
class Layout:
    """One combination of value types of a struct class. Simple fields become `%s` slots in
    pre-rendered markup; the slow path (`filled_slowly`) fills those and writes the others
    field by field, in schema order."""

    pick: Any  # values -> the values of all slots, in order
    strings: Any  # values -> the str values among them, checked together for markup
    string_slots: tuple[int, ...]  # the slots holding those strings
    convert: tuple[tuple[int, Any], ...]  # slot -> text, where `%s` would misprint the value
    # (markup, first slot, end slot), or (None, field, 0) for a field written on its own
    pieces: tuple[tuple[str | None, int, int], ...]
    render: Render  # compiled per layout, see `_compile_render`


# `%s` prints these exactly as XSD wants them (str(date) is its ISO form); exact types only
_DIRECT = frozenset({str, int, date, time})  # Decimal is checked for NaN: FAST_TEXT
MAX_LAYOUTS = 64  # per class: odd inputs must not grow the cache without bound


def make_layout(
    plan: StructPlan, cls: type, kinds: tuple[type, ...], hooks: Hooks
) -> Layout | None:
    """The layout of `cls` for `kinds` (already checked against the declared types), cached on
    the plan; None past `MAX_LAYOUTS` or with a JSON-only field set (the careful path refuses it
    by name)."""
    if len(plan.layouts) >= MAX_LAYOUTS or any(kinds[i] is not UnsetType for i in plan.json_only):
        return None
    slots: list[int] = []
    strings: list[int] = []
    string_slots: list[int] = []
    convert: list[tuple[int, Any]] = []
    pieces: list[tuple[str | None, int, int]] = []
    markup: list[str] = []
    first = 0
    for i, field in enumerate(plan.fields):
        kind = kinds[field.position]
        if kind is UnsetType:
            continue
        as_text = None
        if field.open_tag and kind not in _DIRECT:
            as_text = FAST_TEXT.get(kind, UNKNOWN)
            if as_text is UNKNOWN:
                as_text = learn(kind)
        if field.open_tag and (kind in _DIRECT or as_text is not None):
            if kind is str:
                strings.append(field.position)
                string_slots.append(len(slots))
            elif as_text is not None:
                convert.append((len(slots), as_text))
            slots.append(field.position)
            markup.append(
                field.open_tag.replace("%", "%%") + "%s" + field.close_tag.replace("%", "%%")
            )
            continue
        if markup:
            pieces.append(("".join(markup), first, len(slots)))
            markup, first = [], len(slots)
        pieces.append((None, i, 0))
    if markup:
        pieces.append(("".join(markup), first, len(slots)))
    render = _Compiler(plan, cls, kinds, hooks).compile(slots, string_slots, convert, pieces)
    layout = Layout(
        _getter(slots),
        _getter(strings),
        tuple(string_slots),
        tuple(convert),
        tuple(pieces),
        render,
    )
    plan.layouts[kinds] = layout
    return layout


def _getter(indices: list[int]) -> Any:
    """A C-level `values -> tuple of values[i]`; itemgetter alone returns a bare item for one."""
    if len(indices) > 1:
        return operator.itemgetter(*indices)
    if indices:
        return lambda values, i=indices[0]: (values[i],)
    return lambda values: ()


_join = "".join
_needs_care = NEEDS_CARE.search


# ---- the slow fill: strings escaped where needed ------------------------------------------------


def filled_slowly(layout: Layout, values: tuple[Any, ...]) -> tuple[str, ...] | None:
    """The simple pieces' markup when `layout.render` declined: strings escaped where needed,
    or None when a value (a NaN, a string XML cannot carry) needs the careful path."""
    args = layout.pick(values)
    # the struct's strings checked at once; most hold no markup, and the `in` tests and
    # `isprintable` (all C) clear them faster than the regular expression would
    strings = layout.strings(values)
    escape = False
    if strings:
        joined = _join(strings)
        if (
            "&" in joined
            or "<" in joined
            or ">" in joined
            or '"' in joined
            or not joined.isprintable()
        ):
            escape = _needs_care(joined) is not None
    if layout.convert or escape:
        args = _texts(layout, args, escape)
        if args is None:
            return None
    return tuple(
        markup % args[start:stop] for markup, start, stop in layout.pieces if markup is not None
    )


def _texts(layout: Layout, args: tuple[Any, ...], escape: bool) -> tuple[Any, ...] | None:
    """The slot values as text where `%s` would misprint them, and the strings that need it
    escaped (only those); None sends the struct down the careful path."""
    texts = list(args)
    for slot, as_text in layout.convert:
        texts[slot] = as_text(texts[slot])
        if texts[slot] is None:
            return None
    if escape:
        for slot in layout.string_slots:
            s = texts[slot]
            if NEEDS_CARE.search(s) is not None:
                if NOT_XML.search(s) is not None:
                    return None  # the careful path names the field, in schema order
                texts[slot] = text(s)
    return tuple(texts)


# ---- the compiled render ------------------------------------------------------------------------

_BATCH = 2  # ints, dates and datetimes in a struct printed by one msgspec call from this many
_numbers = msgspec.json.encode  # `[1,"2024-05-06","2024-05-06T07:08:09"]`: what the fields print
_STAMP = bytes.maketrans(b"T", b" ")  # ... as they print, once the `"[]` are gone
_HERE = "(path if index < 0 else f'{path}[{index}]')"  # the struct's own path, when needed


class _Compiler:
    """Writes one layout's `render` as straight-line Python and compiles it with `exec`: the
    schema's markup as literals (`repr`), functions and sets in `env`, no value of a request."""

    def __init__(self, plan: StructPlan, cls: type, kinds: tuple[type, ...], hooks: Hooks):
        self.plan, self.cls, self.kinds, self.hooks = plan, cls, kinds, hooks
        self.env: dict[str, Any] = {"join": _join, "isfinite": math.isfinite, "type": type}
        self.lines = ["def render(values, w, path, index):"]
        self.items: list[str] = []  # what the struct's markup is joined from, in order
        self.namespaces: set[str] = set()  # used by this layout's constant markup

    def const(self, name: str, value: Any) -> str:
        self.env[name] = value
        return name

    def compile(
        self,
        slots: list[int],
        string_slots: list[int],
        convert: list[tuple[int, Any]],
        pieces: list[tuple[str | None, int, int]],
    ) -> Render:
        self.slots = slots
        names = [f"x{p}" for p in slots]  # the values unpacked in C, by position
        if self.kinds:
            self.lines.append(f"    {''.join(f'x{p}, ' for p in range(len(self.kinds)))}= values")
        checked = [names[i] for i in string_slots]  # strings looked at together
        converted = self._enums(names, convert, checked)
        if checked:
            joined = f"join(({', '.join(checked)},))" if len(checked) > 1 else checked[0]
            self.lines += [
                f"    s = {joined}",
                "    if '&' in s or '<' in s or '>' in s or '\"' in s or not s.isprintable():",
                "        return None",
            ]
        batched = self._numbers(names, convert)
        self._conversions(names, convert, converted | batched)
        texts = [n if slot in string_slots else f"str({n})" for slot, n in enumerate(names)]
        for slot in batched.union(slot for slot, _ in convert):
            texts[slot] = names[slot]
        for markup, start, stop in pieces:
            if markup is None:
                self._field(start)
                continue
            if "%%" in markup:  # a literal `%` in a tag (no XML name has one): formatted as is
                args = "".join(n + ", " for n in names[start:stop])
                self.items.append(f"{self.const(f'markup{start}', markup)} % ({args})")
                continue
            constants = markup.split("%s")  # the tags around each slot
            self.items.append(repr(constants[0]))  # constants in the code: LOAD_CONST
            for k, constant in enumerate(constants[1:], 1):
                self.items += [texts[start + k - 1], repr(constant)]
        extra = self.namespaces - self.plan.namespaces  # the struct's own: its caller adds them
        if extra:
            self.lines.append("    w.used.update(namespaces)")
            self.env["namespaces"] = frozenset(extra)
        self.lines.append(f"    return join(({''.join(i + ', ' for i in self.items)}))")
        exec("\n".join(self.lines), self.env)
        render: Render = self.env["render"]
        return render

    def _enums(
        self, names: list[str], convert: list[tuple[int, Any]], checked: list[str]
    ) -> set[int]:
        """Enum values read in place: a str value is checked with the strings, an int one
        printed; other enums keep their converter. Returns the slots done."""
        done = set()
        for slot, _ in convert:
            kind = self.kinds[self.slots[slot]]
            if not (isinstance(kind, type) and issubclass(kind, Enum)):
                continue
            inner = next(
                (c for c in map(FAST_TEXT.get, kind.__mro__[1:]) if c not in (None, UNKNOWN)),
                None,
            )
            n = names[slot]
            if inner is FAST_TEXT[str]:
                self.lines.append(f"    {n} = {n}._value_")
                checked.append(n)
            elif inner is FAST_TEXT[int]:
                self.lines.append(f"    {n} = str({n}._value_)")
            else:
                continue
            done.add(slot)
        return done

    def _numbers(self, names: list[str], convert: list[tuple[int, Any]]) -> set[int]:
        """Ints, dates and datetimes printed by one msgspec call (C, fixed formats: a date's
        ISO form, a naive datetime without microseconds as `YYYY-MM-DD hh:mm:ss`, which is what
        `str` and `server_datetime` print) when a struct has a few; each on its own otherwise,
        or when a datetime is aware or has microseconds. Returns the slots done."""
        kind = [self.kinds[p] for p in self.slots]
        dated = [slot for slot, as_text in convert if as_text is FAST_TEXT[datetime]]
        batch = sorted([s for s, k in enumerate(kind) if k is int or k is date] + dated)
        if len(batch) < _BATCH or not all(kind[s] is datetime for s in dated):
            return set()
        plain = [f"{names[s]}.tzinfo is None and not {names[s]}.microsecond" for s in dated]
        batched = "".join(names[s] + ", " for s in batch)
        self.env.update(numbers=_numbers, stamp=_STAMP)
        self.lines += [
            f"    if {' and '.join(plain) or 'True'}:",
            f"        {batched}= numbers(({batched})).translate(stamp, b'\"[]').decode().split(',')",
            "    else:",
        ]
        self.lines += [f"        {names[s]} = str({names[s]})" for s in batch if s not in dated]
        for s in dated:
            n = names[s]
            self.lines += [
                f"        {n} = {self.const(f'convert{s}', FAST_TEXT[datetime])}({n})",
                f"        if {n} is None:",
                "            return None",
            ]
        return set(batch)

    def _conversions(
        self, names: list[str], convert: list[tuple[int, Any]], done: set[int]
    ) -> None:
        for slot, as_text in convert:
            if slot in done:
                continue
            n = names[slot]
            if as_text is FAST_TEXT[bool]:
                self.lines.append(f"    {n} = 'true' if {n} else 'false'")
                continue
            if as_text is FAST_TEXT[float]:
                line = f"    {n} = repr({n}) if isfinite({n}) else None"
            elif as_text is FAST_TEXT[datetime]:  # `server_datetime`'s usual case, inlined
                line = (
                    f"    {n} = {n}.isoformat(' ') if {n}.tzinfo is None and not {n}.microsecond"
                    f" else {self.const(f'convert{slot}', as_text)}({n})"
                )
            else:
                line = f"    {n} = {self.const(f'convert{slot}', as_text)}({n})"
            self.lines += [line, f"    if {n} is None:", "        return None"]

    def _field(self, i: int) -> None:
        """A field that is not a simple slot: constant markup, a nested struct, an array of
        structs, or the generic path."""
        field = self.plan.fields[i]
        p = field.position
        kind = self.kinds[p]
        attr = self.plan.attrs[p]
        spec = field.spec
        if kind is type(None):
            self._constant(f"nil{i}", field.wire, None, spec)
            return
        if kind is list and type(spec) is tuple:
            empty, used = self.hooks.constant(field.wire, [], spec)
            self.namespaces |= used  # an array's type, written empty or not
            item = self._array_item(i) if spec[0] == "[]" else None
            self.lines += [f"    v{i} = x{p}", f"    if not v{i}:"]
            self.lines.append(f"        t{i} = {empty!r}")
            self.lines.append("    else:")
            if item is None:
                self.lines.append(f"        t{i} = piece(w, plan, cls, {i}, values, {_HERE})")
                self.env.update(piece=self.hooks.piece, plan=self.plan, cls=self.cls)
            else:
                self._array(i, attr, field.wire, item)
            self.items.append(f"t{i}")
            return
        if type(spec) is str and issubclass(kind, msgspec.Struct):
            child = self._child(kind)
            if child is not None:
                encoder, child_plan = child
                self.namespaces |= child_plan.namespaces
                self.lines.append(
                    f"    t{i} = {self.const(f'enc{i}', encoder)}"
                    f"(w, x{p}, {_HERE} + '.{attr}', -1)"
                )
                self.items += [
                    repr(f'<{field.wire} xsi:type="{child_plan.xsi_type}">'),
                    f"t{i}",
                    repr(f"</{field.wire}>"),
                ]
                return
        self.env.update(piece=self.hooks.piece, plan=self.plan, cls=self.cls)
        self.lines.append(f"    t{i} = piece(w, plan, cls, {i}, values, {_HERE})")
        self.items.append(f"t{i}")

    def _constant(self, name: str, wire: str, value: Any, spec: Any) -> None:
        markup, used = self.hooks.constant(wire, value, spec)
        self.namespaces |= used
        self.items.append(repr(markup))

    def _child(self, cls: type) -> tuple[Encoder, StructPlan] | None:
        try:
            return self.hooks.encoder(cls), plan_for(cls)
        except EncodeError:  # no schema table: the generic path raises it in its turn
            return None

    def _array_item(self, i: int) -> tuple[type, Encoder, StructPlan] | None:
        """The struct class of an array field's items, if every item of it is sent alike: the
        field declares it and validation accepts it (as `check_list` would)."""
        field = self.plan.fields[i]
        declared = self.plan.decode.get(field.wire)
        if declared is None or type(declared[2]) is not tuple or type(declared[1][1]) is not str:
            return None
        cls = declared[2][1]
        if not (isinstance(cls, type) and issubclass(cls, msgspec.Struct)):
            return None
        item = plan_of(self.cls).fields[field.position].item
        if item is not None and not item.open and cls not in item.allowed:
            return None
        child = self._child(cls)
        return None if child is None else (cls, *child)

    def _array(self, i: int, attr: str, wire: str, item: tuple[type, Encoder, StructPlan]) -> None:
        cls, encoder, child_plan = item
        name, _ = self.hooks.array_type(self.plan.fields[i].spec)
        self.const(f"only{i}", frozenset({cls}))
        self.const(f"enc{i}", encoder)
        head = repr(f'<{wire} xsi:type="soapenc:Array" soapenc:arrayType="{name}[')
        first = repr(f']">{_item_open(child_plan)}')
        then = repr(f"</item>{_item_open(child_plan)}")
        close = repr(f"</item></{wire}>")
        self.const(f"kns{i}", child_plan.namespaces)
        self.lines += [
            f"        if set(map(type, v{i})) != only{i}:",
            "            return None",
            f"        where = {_HERE} + '.{attr}'",
            f"        t{i} = [{head}, str(len(v{i})), {first}, enc{i}(w, v{i}[0], where, 0)]",
            f"        for k in range(1, len(v{i})):",
            f"            t{i} += ({then}, enc{i}(w, v{i}[k], where, k))",
            f"        t{i}.append({close})",
            f"        t{i} = join(t{i})",
        ]
        if not child_plan.namespaces <= self.plan.namespaces:
            self.lines.append(f"        w.used.update(kns{i})")


def _item_open(plan: StructPlan) -> str:
    return f'<item xsi:type="{plan.xsi_type}">'
