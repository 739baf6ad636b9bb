"""Render the dataset card (README.md) of a built folder from `dataset_card.md` beside this module.

The YAML header is what the Hub and `datasets.load_dataset` read (configs, data_files,
features, split sizes); the prose follows the Hub dataset card sections. Both are generated
from the same counts and record classes as the parquet files, so they cannot drift.
"""

from __future__ import annotations

from collections import Counter
from importlib.resources import files
from string import Template
from typing import Any

import yaml

from mmsy_dataset.construction.templates import PUSH_TEMPLATES
from mmsy_dataset.errors import BuildError
from mmsy_dataset.features import column_descriptions, features_for
from mmsy_dataset.hub.manifest import DuplicateImages, split_glob
from mmsy_dataset.schemas import CONFIG_SPLITS, QuestionRecord, record_type
from mmsy_dataset.sources.base import SourceInfo
from mmsy_dataset.tasks import BENCHMARK_CONFIGS, TASKS

#: Package data, so that an installed `mmsy` builds without the source tree.
CARD_TEMPLATE = files("mmsy_dataset.hub") / "dataset_card.md"

_SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))


def _template() -> Template:
    if not CARD_TEMPLATE.is_file():
        raise BuildError(f"card template {CARD_TEMPLATE} not found: the mmsy installation is incomplete, reinstall it")
    return Template(CARD_TEMPLATE.read_text(encoding="utf-8"))


def card_header(
    counts: dict[str, dict[str, int]],
    num_bytes: dict[str, dict[str, int]],
    version: str,
    info: SourceInfo,
) -> dict[str, Any]:
    total = sum(n for splits in counts.values() for n in splits.values())
    size = next((label for limit, label in _SIZE_CATEGORIES if total < limit), "n>1M")
    default = next((c for c in BENCHMARK_CONFIGS if c in counts), next(iter(counts), None))
    configs, infos = [], []
    for config, splits in counts.items():
        entry: dict[str, Any] = {"config_name": config}
        if config == default:
            entry["default"] = True
        entry["data_files"] = [{"split": s, "path": split_glob(config, s)} for s in splits]
        configs.append(entry)
        infos.append(
            {
                "config_name": config,
                "features": features_for(record_type(config))._to_yaml_list(),
                "splits": [
                    {"name": s, "num_bytes": num_bytes[config][s], "num_examples": n} for s, n in splits.items()
                ],
            }
        )
    return {
        "pretty_name": "MM-SY",
        "license": info.license.lower(),
        "language": ["en"],
        "task_categories": ["visual-question-answering"],
        "tags": ["sycophancy", "vision-language-models", "multimodal", "benchmark", info.name],
        "size_categories": [size],
        "mmsy_version": version,
        "configs": configs,
        "dataset_info": infos,
    }


def _counts_table(counts: dict[str, dict[str, int]]) -> str:
    rows = ["| config | split | records |", "|---|---|---:|"]
    rows += [f"| `{c}` | {s} | {n:,} |" for c, splits in counts.items() for s, n in splits.items()]
    return "\n".join(rows)


def _tasks_table(records: dict[str, dict[str, list[QuestionRecord]]]) -> str:
    benchmark = records.get("sycophancy", {}).get("test") or next(
        (rs for splits in records.values() for rs in splits.values() if rs), []
    )
    per_task = Counter(r.task for r in benchmark)
    answers: dict[str, set[str]] = {}
    for r in benchmark:
        answers.setdefault(r.task, set()).add(r.answer)
    rows = [
        "Per task, in the `sycophancy` config (or the first config built):",
        "",
        "| task | records | distinct answers |",
        "|---|---:|---:|",
    ]
    rows += [f"| {t.value} | {per_task[t]} | {len(answers.get(t, ()))} |" for t in TASKS if per_task[t]]
    return "\n".join(rows)


def _fields_tables(counts: dict[str, dict[str, int]]) -> str:
    blocks = []
    for config in counts:
        descriptions = column_descriptions(record_type(config))
        lines = [f"### Fields of `{config}`", "", "| field | description |", "|---|---|"]
        lines += [
            f"| `{name}` | {text.replace('|', '/').replace(chr(10), ' ')} |" for name, text in descriptions.items()
        ]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _disjoint(duplicates: DuplicateImages | None) -> str:
    """The card's line on what benchmark and training items share."""
    line = "Benchmark and training / probing items share no question and no image (checked at build time)"
    if duplicates is None:
        return line + "."
    return (
        f"{line}: {duplicates.count:,} training / probing questions whose image is a benchmark image "
        f"(the same bytes or the same image id) were left out and others drawn in their place (first ids: "
        f"{', '.join(duplicates.first_ids)}; also in `mmsy_manifest.json` under `duplicate_images`)."
    )


def render_card(
    records: dict[str, dict[str, list[QuestionRecord]]],
    num_bytes: dict[str, dict[str, int]],
    *,
    version: str,
    seed: int,
    checksum: str,
    info: SourceInfo,
    builder: str,
    build_command: str,
    duplicates: DuplicateImages | None = None,
) -> str:
    counts = {c: {s: len(rs) for s, rs in splits.items()} for c, splits in records.items()}
    unknown = [c for c in counts if c not in CONFIG_SPLITS]
    if unknown:
        raise BuildError(f"no card entry for configs {unknown}")
    header = yaml.safe_dump(card_header(counts, num_bytes, version, info), sort_keys=False, allow_unicode=True)
    attribution = f"\n\n**Attribution.** {info.attribution}" if info.attribution else ""
    body = _template().substitute(
        version=version,
        source=info.name,
        seed=seed,
        checksum=checksum,
        license_name=info.license,
        license_note=f" {info.details['license_note']}" if info.details.get("license_note") else "",
        source_section=info.description + attribution,
        counts_table=_counts_table(counts),
        tasks_table=_tasks_table(records),
        fields_tables=_fields_tables(counts),
        n_push_templates=min(len(t) for t in PUSH_TEMPLATES.values()),
        personal_info=info.details.get("personal_info", "None: the source contains no personal data."),
        limitations=info.details.get("limitations", ""),
        disjoint=_disjoint(duplicates),
        builder=builder,
        build_command=build_command,
    )
    return f"---\n{header}---\n\n{body}"
