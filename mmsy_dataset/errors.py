"""Project exceptions. Messages name the file, the record and the field, and say what to do."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


class MmsyError(Exception):
    """Base class: the CLI prints these without a traceback and exits with status 2."""


class InputError(MmsyError):
    """Bad input data: a file, a record in it, a field of that record."""

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        record: str | int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.record = record
        self.field = field
        where = []
        if file is not None:
            where.append(f"file {self.file}")
        if record is not None:
            where.append(f"record {record}")
        if field is not None:
            where.append(f"field {field!r}")
        prefix = f"{', '.join(where)}: " if where else ""
        super().__init__(prefix + message)


class BuildError(MmsyError):
    """A dataset build that cannot proceed (bad sizes, unwritable output, ...)."""


class ScoringError(MmsyError, ValueError):
    """Predictions that cannot be scored; the message names the records concerned, `problems`
    holds them one by one (`mmsy_dataset.validation.Problem`) when they come from the shared check."""

    def __init__(self, message: str, problems: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)
