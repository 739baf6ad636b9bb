"""The `sft` and `dpo` configs of an `mmsy build` folder as TRL datasets.

Rows are conversational prompt/completion rows (TRL's "prompt-completion" and "preference"
types) with the image in an `image` column, so TRL's vision collators put the loss on the
completion only: the dialogue up to the round-2 reply is the prompt, the reply the completion.
The round-1 assistant turn holds the record's round-1 answer in the form the evaluation scores
(`answer_format`: the option's words or its letter), exactly as the engine writes the model's own
round-1 answer back into the dialogue (engine/protocol.py `answer_text`).

With `reply="answer"` the round-2 target is the option alone: eq. 2's y_true for SFT, eq. 3-4's
y_true / y_false for DPO. With `reply="response"` it is the record's reply sentence (paper B.1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmsy_dataset.errors import InputError
from mmsy_dataset.hub.reader import resolve_dataset, split_files
from mmsy_dataset.tasks import LETTERS, Mode

#: Columns every training dialogue needs, and what each method adds.
DIALOGUE_COLUMNS = ("id", "image", "options", "answer_letter", "prompt", "mode", "round1_letter", "push", "push_letter")
METHOD_COLUMNS = {"sft": ("response",), "dpo": ("chosen", "rejected")}


def training_files(dataset: str | Path, method: str) -> list[Path]:
    """Parquet files of the `method` config; a folder built without it is refused by name."""
    root = resolve_dataset(dataset)
    try:
        return split_files(root, method, "train")
    except InputError:
        raise InputError(
            f"no {method!r} config here (data/{method}/train-*.parquet); build one with `mmsy build` "
            f"including --configs {method}",
            file=root,
        ) from None


def name_option(options: list[str], letter: str, answer_format: str) -> str:
    """An option as the assistant says it: its words (`option`) or its letter."""
    return letter if answer_format == "letter" else options[LETTERS.index(letter)]


def user(text: str, image: bool = False) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": text}]
    if image:
        content.append({"type": "image"})
    return {"role": "user", "content": content}


def assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


def dialogue_prompt(row: dict[str, Any], answer_format: str) -> list[dict[str, Any]]:
    """Round 1 (question with the image, the round-1 answer) and the round-2 push."""
    round1 = name_option(row["options"], row["round1_letter"], answer_format)
    return [user(row["prompt"], image=True), assistant(round1), user(row["push"])]


def false_letter(row: dict[str, Any]) -> str:
    """The option the rejected reply commits to: the pushed one when the user misleads, the
    assistant's own wrong round-1 answer when the user corrects."""
    if row["mode"] == Mode.REFUSE_MISLEADING.value:
        return str(row["push_letter"])
    return str(row["round1_letter"])


def sft_row(row: dict[str, Any], answer_format: str, reply: str) -> dict[str, Any]:
    target = (
        row["response"] if reply == "response" else name_option(row["options"], row["answer_letter"], answer_format)
    )
    return {"prompt": dialogue_prompt(row, answer_format), "completion": [assistant(target)]}


def dpo_row(row: dict[str, Any], answer_format: str, reply: str) -> dict[str, Any]:
    if reply == "response":
        chosen, rejected = row["chosen"], row["rejected"]
    else:
        chosen = name_option(row["options"], row["answer_letter"], answer_format)
        rejected = name_option(row["options"], false_letter(row), answer_format)
    return {
        "prompt": dialogue_prompt(row, answer_format),
        "chosen": [assistant(chosen)],
        "rejected": [assistant(rejected)],
    }


def load_training_dataset(
    dataset: str | Path,
    method: str,
    answer_format: str = "option",
    reply: str = "response",
    limit: int | None = None,
) -> Any:
    """A `datasets.Dataset` of TRL rows (plus `image` and the record `id`) from a build folder."""
    import datasets

    if method not in METHOD_COLUMNS:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(METHOD_COLUMNS)}")
    files = training_files(dataset, method)
    try:
        data = datasets.load_dataset("parquet", data_files=[str(f) for f in files], split="train")
    except Exception as error:  # arrow / datasets raise many classes; the file is what matters
        raise InputError(f"unreadable {method} data ({type(error).__name__}: {error})", file=files[0]) from None
    missing = [c for c in (*DIALOGUE_COLUMNS, *METHOD_COLUMNS[method]) if c not in data.column_names]
    if missing:
        raise InputError(f"missing column(s) {missing} in the {method} config", file=files[0], field=missing[0])
    if limit is not None:
        data = data.select(range(min(limit, len(data))))
    data = data.cast_column("image", datasets.Image())
    convert = sft_row if method == "sft" else dpo_row
    keep = {"id", "image"}
    return data.map(
        convert,
        fn_kwargs={"answer_format": answer_format, "reply": reply},
        remove_columns=[c for c in data.column_names if c not in keep],
        desc=f"{method} rows",
    )
