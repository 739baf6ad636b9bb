"""`mmsy analyze probe` and `mmsy analyze attention`: paper section 4 on local models.

mmsy analyze probe --model runs/base --model runs/sft --label base --label SFT --dataset ./mmsy \
    --out runs/analysis --mode option
mmsy analyze attention --model runs/base --model runs/sft --dataset ./mmsy --out runs/analysis
mmsy analyze attention --model runs/base --model runs/base --label base --label amplified \
    --amplify none --amplify 3-4:0.9 --dataset ./mmsy --out runs/analysis
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "analyze",
        help="inside the model: layer-wise probes and attention to the image (paper section 4)",
        description="Layer-wise analyses of local VLMs on the probing config's sycophancy contexts.",
    )
    sub = p.add_subparsers(dest="analysis", required=True, metavar="ANALYSIS")
    probe = sub.add_parser(
        "probe",
        help="per-layer logistic probe of eq. 5 (keeps the true option vs takes the pushed one), AUC per layer",
        description="Train a logistic probe per layer on the last token's hidden state of the probing train "
        "contexts, report its test AUC with a bootstrap interval, and plot Figure 3 (left).",
    )
    _common(probe)
    probe.set_defaults(handler=run_probe)
    attention = sub.add_parser(
        "attention",
        help="per-layer attention ratio image / text at the round-2 answer (eq. 6) and image attention mass",
        description="Mean attention to an image token over mean attention to a text token at the round-2 "
        "answer position, per layer, averaged over heads and contexts; plots Figure 3 (right) and the "
        "image's total attention (appendix C.1).",
    )
    _common(attention)
    attention.add_argument(
        "--split",
        choices=("test", "train", "all"),
        default="test",
        help="probing split to average over (default test: the paper's 800)",
    )
    attention.set_defaults(handler=run_attention)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", action="append", required=True, help="local model folder or Hub id (repeat to overlay)")
    p.add_argument("--label", action="append", default=None, help="legend name per --model, in order")
    p.add_argument("--adapter", default=None, help="adapter name (default: detected from config.json)")
    p.add_argument("--dataset", required=True, help="MM-SY folder with the probing config")
    p.add_argument("--out", required=True, type=Path, help="output folder (JSON results and PNG plots)")
    p.add_argument(
        "--mode",
        choices=("letter", "option"),
        default="letter",
        help="how the round-1 and round-2 argmax are read (letter: the paper's label logits)",
    )
    p.add_argument("--option-choice", choices=("sum", "norm"), default="sum")
    p.add_argument("--limit", type=int, default=None, help="at most N contexts per split (quick runs)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", choices=("auto", "float32", "float16", "bfloat16"), default="auto")
    p.add_argument("--trust-remote-code", action="store_true")
    p.add_argument("--n-bootstrap", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    amp = p.add_argument_group("attention amplification (paper 4.3, eq. 7; as in `mmsy eval --amplify`)")
    amp.add_argument(
        "--amplify",
        action="append",
        default=None,
        metavar="FIRST-LAST:LAMBDA",
        help="analyse the model with eq. 7 installed in text layers FIRST..LAST (1-based), e.g. 3-4:0.9. "
        "Given once: every --model; given once per --model: each its own, in order ('none': as is)",
    )
    amp.add_argument(
        "--amplify-queries",
        choices=("after-image", "all"),
        default=None,
        help="query rows amplified: the positions after the image (default) or all rows",
    )


def _labels(args: argparse.Namespace) -> list[str]:
    from mmsy_dataset.analysis import AnalysisError

    if args.label is None:
        return [Path(m).name or m for m in args.model]
    if len(args.label) != len(args.model):
        raise AnalysisError(f"--label: {len(args.label)} given for {len(args.model)} --model")
    return list(args.label)


def _amplify_plan(args: argparse.Namespace) -> list[Any]:
    """One `AmplifySettings` or None per --model, every spec parsed and checked against its
    model's config before anything is loaded or written (a bad spec: one line)."""
    from mmsy_dataset.analysis import AnalysisError
    from mmsy_dataset.engine.amplify import preflight
    from mmsy_dataset.engine.config import AmplifySettings

    specs = args.amplify
    if specs is None:
        if args.amplify_queries is not None:
            raise AnalysisError("--amplify-queries needs --amplify")
        return [None] * len(args.model)
    if len(specs) == 1:
        specs = specs * len(args.model)
    elif len(specs) != len(args.model):
        raise AnalysisError(
            f"--amplify: {len(specs)} given for {len(args.model)} --model; give one for all or one per --model"
        )
    if args.adapter is not None:
        _local_adapter(args.adapter, args.model[0])  # an API model: that error, not a config lookup's
    plan: list[AmplifySettings | None] = []
    for source, spec in zip(args.model, specs, strict=True):
        if spec.strip().lower() == "none":
            plan.append(None)
            continue
        settings = AmplifySettings.parse(spec, args.amplify_queries or "after-image")
        preflight(settings, source, None, args.trust_remote_code)
        plan.append(settings)
    return plan


def _labels_and_plan(args: argparse.Namespace) -> tuple[list[str], list[Any]]:
    """Legend names and amplification per --model; a default name says it was amplified."""
    plan = _amplify_plan(args)
    labels = _labels(args)
    if args.label is None:
        labels = [label if s is None else f"{label} +amp {s.spec}" for label, s in zip(labels, plan, strict=True)]
    return labels, plan


def _amplified(adapter: Any, settings: Any) -> Any:
    """A context that installs eq. 7 on `adapter` for the analysis (nothing when `settings` is
    None) and gives the model its attention back afterwards."""
    from contextlib import nullcontext

    from mmsy_dataset.engine.amplify import Amplifier

    return nullcontext() if settings is None else Amplifier(adapter, settings)


def _with_amplify(result: Any, adapter: Any, settings: Any) -> dict[str, Any]:
    """A result's JSON, with the amplification it ran under (None: the model as is)."""
    from mmsy_dataset.engine.amplify import text_depth

    amplify = None
    if settings is not None:
        amplify = {**settings.model_dump(mode="json"), "spec": settings.spec, "text_layers": text_depth(adapter.model)}
    return {**result.model_dump(), "amplify": amplify}


def _local_adapter(name: str, source: str) -> Any:
    """The adapter class `name`, refused when it has no local weights (a model behind an API)."""
    from mmsy_dataset.adapters.base import VLMAdapter
    from mmsy_dataset.adapters.registry import get_adapter
    from mmsy_dataset.analysis import AnalysisError

    cls = get_adapter(name)
    if not issubclass(cls, VLMAdapter):
        raise AnalysisError(
            f"model {source!r}: adapter {name!r} exposes no hidden states or attentions "
            "(a model behind an API); layer-wise analysis needs local weights"
        )
    return cls


def _load(args: argparse.Namespace, source: str, eager: bool) -> Any:
    """Load a model through its adapter, refusing adapters without hidden states up front."""
    from mmsy_dataset.adapters.registry import detect_adapter
    from mmsy_dataset.analysis.capture import use_eager_attention
    from mmsy_dataset.api.prompts import LoadOptions

    cls = _local_adapter(args.adapter or detect_adapter(source, args.trust_remote_code), source)
    adapter = cls.load(source, LoadOptions(args.device, args.dtype, args.trust_remote_code))
    if eager:
        use_eager_attention(adapter)
    return adapter


def _collect(
    args: argparse.Namespace, adapter: Any, records: list[Any], label: str, hidden: bool, attention: bool
) -> Any:
    import torch
    from rich.progress import Progress

    from mmsy_dataset.analysis.contexts import collect
    from mmsy_dataset.predictions import ScoringMode

    torch.manual_seed(args.seed)
    with Progress(disable=args.no_progress, transient=True) as progress:
        task = progress.add_task(f"{label}: {len(records)} contexts", total=len(records))
        return collect(
            adapter,
            records,
            ScoringMode(args.mode),
            hidden=hidden,
            attention=attention,
            batch_size=args.batch_size,
            option_choice=args.option_choice,
            advance=lambda n: progress.advance(task, n),
        )


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    keep = ("dataset", "mode", "option_choice", "limit", "n_bootstrap", "seed", "batch_size")
    return {k: getattr(args, k) for k in keep}


def run_probe(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from mmsy_dataset.analysis.contexts import load_probing
    from mmsy_dataset.analysis.plots import plot_probe
    from mmsy_dataset.analysis.probe import fit_probes
    from mmsy_dataset.engine.outputs import write_json

    labels, plan = _labels_and_plan(args)
    train = load_probing(args.dataset, "train", args.limit)
    test = load_probing(args.dataset, "test", args.limit)
    results, dumps = [], []
    for source, label, settings in zip(args.model, labels, plan, strict=True):
        adapter = _load(args, source, eager=False)
        start = time.perf_counter()
        with _amplified(adapter, settings):
            c_train = _collect(args, adapter, train, label, hidden=True, attention=False)
            c_test = _collect(args, adapter, test, label, hidden=True, attention=False)
        collected = time.perf_counter() - start
        result = fit_probes(c_train, c_test, label=label, model=source, n_bootstrap=args.n_bootstrap, seed=args.seed)
        results.append(result)
        dumps.append(_with_amplify(result, adapter, settings))
        Console(stderr=True).print(
            f"{label}: {len(train) + len(test)} contexts in {collected:.1f} s, probes in "
            f"{time.perf_counter() - start - collected:.1f} s"
        )
    args.out.mkdir(parents=True, exist_ok=True)  # only once every model has been analysed
    write_json(args.out / "probe.json", {"settings": _settings(args), "models": dumps})
    plot_probe(results, args.out / "probe_auc.png")
    table = Table(title="Probe AUC per layer (test, 95% bootstrap CI)")
    table.add_column("layer")
    for r in results:
        table.add_column(r.label)
    for j in range(max(len(r.layers) for r in results)):
        table.add_row(
            str(j + 1),
            *(
                _cell(r.layers[j].auc, r.layers[j].ci_low, r.layers[j].ci_high) if j < len(r.layers) else ""
                for r in results
            ),
        )
    Console().print(table)
    for r in results:
        if r.undefined:
            Console().print(f"{r.label}: AUC undefined: {r.undefined}")
        Console().print(f"{r.label}: train {r.train}; test {r.test}")
    print(f"wrote {args.out / 'probe.json'} and {args.out / 'probe_auc.png'}")
    return 0


def _cell(value: float | None, low: float | None, high: float | None, digits: int = 3) -> str:
    if value is None:
        return "undefined"
    ci = f" [{low:.{digits}f}, {high:.{digits}f}]" if low is not None and high is not None else ""
    return f"{value:.{digits}f}{ci}"


def run_attention(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from mmsy_dataset.analysis.attention import attention_stats
    from mmsy_dataset.analysis.contexts import load_probing
    from mmsy_dataset.analysis.plots import plot_attention
    from mmsy_dataset.engine.outputs import write_json

    labels, plan = _labels_and_plan(args)
    splits = ("train", "test") if args.split == "all" else (args.split,)
    records = [r for split in splits for r in load_probing(args.dataset, split, args.limit)]
    results, dumps = [], []
    for source, label, settings in zip(args.model, labels, plan, strict=True):
        # Eager attention before the Amplifier: its chosen layers then compute eq. 7 the eager
        # way and the others plain eager attention, so every layer returns the post-softmax
        # weights the model actually used, amplified where it was.
        adapter = _load(args, source, eager=True)
        start = time.perf_counter()
        with _amplified(adapter, settings):
            contexts = _collect(args, adapter, records, label, hidden=False, attention=True)
        Console(stderr=True).print(f"{label}: {len(records)} contexts in {time.perf_counter() - start:.1f} s")
        result = attention_stats(
            contexts, label=label, model=source, split=args.split, n_bootstrap=args.n_bootstrap, seed=args.seed
        )
        results.append(result)
        dumps.append(_with_amplify(result, adapter, settings))
    args.out.mkdir(parents=True, exist_ok=True)  # only once every model has been analysed
    write_json(args.out / "attention.json", {"settings": _settings(args), "models": dumps})
    paths = plot_attention(results, args.out)
    table = Table(title="ā_l per layer (image / text attention per token) and image attention mass")
    table.add_column("layer")
    for r in results:
        table.add_column(f"{r.label} ā_l")
        table.add_column(f"{r.label} mass")
    for j in range(max(len(r.ratio) for r in results)):
        cells = []
        for r in results:
            cells += [
                _cell(r.ratio[j].value, r.ratio[j].ci_low, r.ratio[j].ci_high),
                _cell(r.image_mass[j].value, r.image_mass[j].ci_low, r.image_mass[j].ci_high),
            ]
        table.add_row(str(j + 1), *cells)
    Console().print(table)
    print(f"wrote {args.out / 'attention.json'}, " + ", ".join(str(p) for p in paths))
    return 0
