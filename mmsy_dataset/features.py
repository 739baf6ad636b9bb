"""Derive `datasets.Features` from the pydantic record classes.

The parquet schema and the card's `dataset_info` come from here, so that a field added to a
record class appears in the Hub layout without a second hand-written schema.
"""

from __future__ import annotations

import types
from enum import Enum
from typing import Annotated, Any, Union, get_args, get_origin

from datasets import Features, Image, List, Value
from pydantic import BaseModel

from mmsy_dataset.schemas import ImageColumn, QuestionRecord

_SCALARS: dict[type, str] = {str: "string", int: "int64", float: "float64", bool: "bool", bytes: "binary"}


def _feature(annotation: Any, where: str) -> Any:
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *extras = get_args(annotation)
        if any(isinstance(extra, ImageColumn) for extra in extras):
            return Image()
        return _feature(base, where)
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) != 1:
            raise TypeError(f"{where}: unions other than Optional[X] have no Features equivalent")
        return _feature(members[0], where)
    if origin in (list, tuple):
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        if len(args) != 1:
            raise TypeError(f"{where}: only homogeneous lists/tuples are supported")
        return List(_feature(args[0], where))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {name: _feature(f.annotation, f"{where}.{name}") for name, f in annotation.model_fields.items()}
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return Value("string")
    if annotation in _SCALARS:
        return Value(_SCALARS[annotation])
    raise TypeError(f"{where}: no Features equivalent for {annotation!r}")


def features_for(record_cls: type[BaseModel]) -> Features:
    """The `datasets.Features` of a record class, field order preserved."""
    return Features(
        {
            name: Image()
            if any(isinstance(m, ImageColumn) for m in field.metadata)
            else _feature(field.annotation, f"{record_cls.__name__}.{name}")
            for name, field in record_cls.model_fields.items()
        }
    )


def to_row(record: QuestionRecord) -> dict[str, Any]:
    """A record as a row for `Dataset.from_list(..., features=features_for(type(record)))`."""
    row = record.model_dump(mode="python")
    for name, feature in features_for(type(record)).items():
        if isinstance(feature, Image):
            row[name] = {"bytes": row[name], "path": None}
    return _plain(row)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def column_descriptions(record_cls: type[BaseModel]) -> dict[str, str]:
    """Field docstrings, for the dataset card."""
    return {name: (f.description or "") for name, f in record_cls.model_fields.items()}
