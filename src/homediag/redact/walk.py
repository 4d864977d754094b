"""The pass over pydantic models: each field redacted by the kind its annotation declares.

Walking a model by its annotations is the hot path of redaction, so the
decision tree for each annotation is worked out once and kept as a function
(a *plan*). Plans call back into the redactor for single values, free text
and nested models.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from homediag.model.kinds import Sensitive
from homediag.redact import macs

__all__ = ["Plan", "Redacts", "model_plan", "redact_any"]


class Redacts(Protocol):
    """What a plan needs of the redactor (:class:`homediag.redact.redactor.Redactor`)."""

    def value(self, kind: Sensitive, value: str) -> str:
        """Redact one value of a known kind."""
        ...

    def text(self, text: str) -> str:
        """Redact free text."""
        ...

    def model(self, model: BaseModel) -> dict[str, Any]:
        """Redact a pydantic model; plain JSON data."""
        ...


Plan = Callable[[Redacts, Any], Any]


def _kind_of(metadata: Sequence[Any]) -> Sensitive | None:
    for item in metadata:
        if isinstance(item, Sensitive):
            return item
    return None


def redact_any(r: Redacts, value: Any) -> Any:
    """Redact a value of unknown type: strings are scanned as free text."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return r.text(value)
    if isinstance(value, BaseModel):
        return r.model(value)
    if isinstance(value, Mapping):
        return {str(k): _keyed(r, k, v, redact_any) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_any(r, v) for v in value]
    return to_jsonable_python(value)


def _keyed(r: Redacts, key: object, value: Any, plan: Plan) -> Any:
    """A mapping's value: under a MAC key (TXT ``mac``, details ``wifi_mac``) a MAC in any spelling is one."""
    if (
        isinstance(value, str)
        and isinstance(key, str)
        and macs.MAC_KEY_RE.fullmatch(key)
        and macs.normalize(value) is not None
    ):
        return r.value(Sensitive.MAC, value)
    return plan(r, value)


def _passthrough(r: Redacts, value: Any) -> Any:
    del r
    return value


def _jsonable(r: Redacts, value: Any) -> Any:
    del r
    return to_jsonable_python(value)


# Walking a model by its annotations is the hot path of redaction; the
# decision tree for an annotation is worked out once and kept as a function.
@functools.cache
def _plan(annotation: Any) -> Plan:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        kind = _kind_of(args[1:])
        inner = _plan(args[0])
        if kind is None:
            return inner
        sensitive: Sensitive = kind

        def annotated(r: Redacts, value: Any) -> Any:
            if isinstance(value, str):
                return r.value(sensitive, value)
            if isinstance(value, list | tuple):
                return [
                    r.value(sensitive, v) if isinstance(v, str) else redact_any(r, v) for v in value
                ]
            return None if value is None else inner(r, value)

        return annotated
    if origin in (typing.Union, types.UnionType):
        options = [(arg, _plan(arg)) for arg in args if arg is not type(None)]

        def union(r: Redacts, value: Any) -> Any:
            if value is None:
                return None
            for arg, plan in options:
                if _accepts(arg, value):
                    return plan(r, value)
            return redact_any(r, value)

        return union
    if origin is typing.Literal or annotation in (int, float, bool):
        return _passthrough
    if annotation is str:
        return lambda r, value: r.text(value) if isinstance(value, str) else redact_any(r, value)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return lambda r, value: (
            r.model(value) if isinstance(value, BaseModel) else redact_any(r, value)
        )
    if origin in (list, tuple, set, frozenset, Sequence):
        item = _plan(args[0]) if args else redact_any

        def sequence(r: Redacts, value: Any) -> Any:
            if isinstance(value, list | tuple | set | frozenset):
                return [item(r, v) for v in value]
            return redact_any(r, value)

        return sequence
    if origin in (dict, Mapping):
        entry = _plan(args[1]) if len(args) == 2 else redact_any

        def mapping(r: Redacts, value: Any) -> Any:
            if isinstance(value, Mapping):
                return {str(k): _keyed(r, k, v, entry) for k, v in value.items()}
            return redact_any(r, value)

        return mapping
    if isinstance(annotation, type) and annotation.__module__ == "datetime":
        return _jsonable
    return redact_any


@functools.cache
def model_plan(cls: type[BaseModel]) -> tuple[tuple[str, str, Plan], ...]:
    plans = []
    for name, field in cls.model_fields.items():
        annotation: Any = field.annotation
        kind = _kind_of(field.metadata)
        if kind is not None:
            annotation = typing.Annotated[annotation, kind]
        plans.append((name, field.serialization_alias or field.alias or name, _plan(annotation)))
    return tuple(plans)


def _accepts(annotation: Any, value: Any) -> bool:
    base = annotation
    if typing.get_origin(base) is typing.Annotated:
        base = typing.get_args(base)[0]
    origin = typing.get_origin(base) or base
    if origin is Any:
        return True
    if origin in (list, tuple, set, frozenset, Sequence):
        return isinstance(value, list | tuple | set | frozenset)
    if origin in (dict, Mapping):
        return isinstance(value, Mapping)
    if typing.get_origin(base) is typing.Literal:
        return value in typing.get_args(base)
    return isinstance(origin, type) and isinstance(value, origin)
