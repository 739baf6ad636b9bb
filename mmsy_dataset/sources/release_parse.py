"""Text parsing for the released MM-SY parquet: options in the question text, option references,
and the task of a question when the release does not say it.

The release stores one string per question: instruction, question and lettered (or numbered)
options, as in paper A.3 ("... which are ABCD or 1234 ... (A) eating (B) standing ..."). These
functions recover the parts; they never guess silently: an unparseable value is an error, an
unrecognised question is reported as having no task.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mmsy_dataset.answers import are_variants, normalise
from mmsy_dataset.tasks import LETTERS, Task, is_yes_no

#: Option label styles, tried in order: "(A) x (B) y" (the paper's), then "A. x B. y" / "A) x".
_LABEL_STYLES = (
    re.compile(r"\(([A-Da-d1-4])\)"),
    re.compile(r"(?:(?<=\s)|^)([A-D1-4])[.:)](?=\s)"),
)
#: The paper's round-1 instruction (A.3), up to and including '(such as "A" or "1")'.
_INSTRUCTION = re.compile(r"^.*?output only the correct option\s*\(\s*such as[^)]*\)\s*[.:]?\s*", re.I | re.S)
_IMAGE_TOKEN = re.compile(r"\s*(?:<image>|\{image\})\s*", re.I)


@dataclass(frozen=True)
class ParsedQuestion:
    """The parts of a released question string."""

    question: str
    """The question alone (no instruction, no options)."""
    options: tuple[str, ...]
    """Option texts in label order."""
    digit_labels: bool
    """Options were labelled 1-4 rather than A-D."""
    prompt: str
    """The round-1 message: the release text verbatim, except that an image placeholder is removed
    and digit labels are rewritten as letters (MM-SY scores letters)."""


def _label_index(label: str) -> int:
    return "ABCD".index(label.upper()) if label.isalpha() else int(label) - 1


def _last_run(text: str, style: re.Pattern[str]) -> list[re.Match[str]]:
    """The last run of consecutive labels A, B[, C, D] (or 1, 2[, 3, 4]) in the text."""
    matches = list(style.finditer(text))
    best: list[re.Match[str]] = []
    i = 0
    while i < len(matches):
        run = [matches[i]]
        if _label_index(matches[i].group(1)) == 0:
            kind = matches[i].group(1).isdigit()
            for nxt in matches[i + 1 :]:
                if nxt.group(1).isdigit() != kind or _label_index(nxt.group(1)) != len(run) or len(run) == 4:
                    break
                run.append(nxt)
        if len(run) >= 2:
            best = run
        i += len(run)
    return best


def parse_question(text: str) -> ParsedQuestion:
    """Split a released question string; ValueError says what is wrong."""
    clean = _IMAGE_TOKEN.sub(" ", text).strip()
    run: list[re.Match[str]] = []
    for style in _LABEL_STYLES:
        run = _last_run(clean, style)
        if run:
            break
    if not run:
        raise ValueError("no lettered options like '(A) ... (B) ...' found in the question text")
    if len(run) == 3:
        raise ValueError("three options found; MM-SY questions have two (yes/no) or four")
    ends = [m.start() for m in run[1:]] + [len(clean)]
    options = []
    for match, end in zip(run, ends, strict=True):
        option = clean[match.end() : end]
        option = option.split("\n", 1)[0] if match is run[-1] else option
        option = " ".join(option.split()).strip(" ,;")
        if not option:
            raise ValueError(f"option {match.group(1)} is empty")
        options.append(option)
    if len({normalise(o) for o in options}) != len(options):
        raise ValueError(f"duplicate options {options}")
    prefix = clean[: run[0].start()]
    question = " ".join(_INSTRUCTION.sub("", prefix).split())
    if not question:
        raise ValueError("no question text before the options")
    digits = run[0].group(1).isdigit()
    prompt = clean
    if digits:
        labelled = " ".join(f"({LETTERS[i]}) {o}" for i, o in enumerate(options))
        prompt = f"{prefix.rstrip()} {labelled}".strip()
    return ParsedQuestion(question=question, options=tuple(options), digit_labels=digits, prompt=prompt)


def letters_convention(values: list[str]) -> bool:
    """Whether a column of option references uses letters: then a bare digit means an option's
    text (counting options are digits); otherwise bare digits are labels 1-4."""
    return any(re.fullmatch(r"\(?[A-Da-d]\)?[.:]?", v.strip()) for v in values)


def resolve_option(value: str, options: tuple[str, ...], letters: bool) -> int:
    """Index of the option a `true_option` / `sy_option` value names; ValueError if it names none."""
    v = value.strip()
    bare = re.fullmatch(r"\(?([A-Da-d1-4])\)?[.:]?", v)
    if bare and (bare.group(1).isalpha() or not letters):
        index = _label_index(bare.group(1))
    else:
        labelled = re.fullmatch(r"\(?([A-Da-d1-4])[).:]\s*(.+)", v, re.S)
        if labelled and _label_index(labelled.group(1)) < len(options):
            index = _label_index(labelled.group(1))
            if normalise(labelled.group(2)) != normalise(options[index]):
                raise ValueError(f"{v!r} names option {labelled.group(1)} but its text is {options[index]!r}")
        else:
            hits = [i for i, o in enumerate(options) if normalise(o) == normalise(v)]
            if len(hits) != 1:
                raise ValueError(f"{v!r} is neither an option label nor one of the options {list(options)}")
            index = hits[0]
    if index >= len(options):
        raise ValueError(f"{v!r} is beyond the {len(options)} options")
    return index


def same_answer(answer: str, option: str) -> bool:
    return normalise(answer) == normalise(option) or are_variants(answer, option)


#: Question patterns of the TDIUC question types, first match wins (checked on lower-case text).
#: They follow TDIUC's templates and are approximate on free-form questions: the card records how
#: many tasks came from the TDIUC join, how many from these rules, and how many stayed unknown.
_RULES: tuple[tuple[Task, re.Pattern[str]], ...] = tuple(
    (task, re.compile(pattern))
    for task, pattern in (
        (Task.COUNTING, r"^how many\b"),
        (Task.COLOR, r"\b(what|which) colou?rs?\b|\bcolou?r (is|are|of)\b"),
        (Task.SPORT_RECOGNITION, r"\b(what|which) (sport|game)\b|\bsport\b"),
        (Task.UTILITY_AFFORDANCE, r"\bused (for|to|as)\b|\bcan be used\b|\bfor what purpose\b|\buse (this|these|it)\b"),
        (Task.ACTIVITY_RECOGNITION, r"\bdoing\b|\bwhat activity\b"),
        (
            Task.SCENE_RECOGNITION,
            r"\b(what|which) (type of |kind of )?(room|place|scene|setting|location|area)\b|^where (is|are|was|were)\b",
        ),
        (
            Task.ATTRIBUTE,
            r"\bmade (of|out of|from)\b|\b(what|which) (type of |kind of )?(material|shape|pattern|texture|style)\b",
        ),
        (
            Task.POSITIONAL_REASONING,
            r"^(what|which|who) (is|are)\b.*\b(on top of|in front of|next to|to the (left|right) of|behind|under|"
            r"underneath|beneath|beside|above|below|near|on|in|inside|left of|right of)\s+(the|a|an|his|her|this)\s+"
            r"(?!(picture|image|photo|photograph|scene)\b)",
        ),
        (
            Task.OBJECT_RECOGNITION,
            r"^what (is|are) (this|that|these|those|the object|the objects|shown|pictured|in the)\b|"
            r"\b(what|which) (type of |kind of )?(animal|object|vehicle|food|fruit|item|appliance|furniture|"
            r"thing|dish|device)s?\b",
        ),
    )
)


def guess_task(question: str, answer: str) -> Task | None:
    """The task a question's wording points to, or None. Yes/no questions are object presence
    (the only yes/no task of MM-SY)."""
    text = question.lower().strip()
    if is_yes_no(answer):
        return Task.OBJECT_PRESENCE
    for task, pattern in _RULES:
        if pattern.search(text):
            return task
    return None


__all__ = ["ParsedQuestion", "guess_task", "letters_convention", "parse_question", "resolve_option", "same_answer"]
