"""Paper section 4 end to end on local models: `run_probe` and `run_attention`.

Each loads every model through its adapter (refusing one behind an API), installs attention
amplification where asked, runs the probing config's contexts through it (`contexts.collect`),
fits the per-layer probes or averages the attention, and writes the results and figures.
`mmsy analyze probe|attention` parses its flags into `AnalysisSettings`, calls these and prints
what they return; tests and notebooks call them directly.

Everything that can be checked from configs alone (the counts of `labels` and `amplify`, every
amplification spec against its model's config, an adapter without local weights) is checked
before any model is loaded; the output folder is made only once every model has been analysed,
so a model that fails leaves no folder behind.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mmsy_dataset.adapters.base import VLMAdapter
from mmsy_dataset.analysis.attention import AttentionResult, attention_stats
from mmsy_dataset.analysis.capture import AnalysisError, use_eager_attention
from mmsy_dataset.analysis.contexts import Contexts, collect, load_probing
from mmsy_dataset.analysis.plots import plot_attention, plot_probe
from mmsy_dataset.analysis.probe import ProbeResult, fit_probes
from mmsy_dataset.engine.config import AmplifySettings
from mmsy_dataset.schemas import QuestionRecord
from mmsy_dataset.threads import set_torch_threads


@dataclass(frozen=True)
class AnalysisSettings:
    """What both analyses take (the flags of `mmsy analyze`, whose names the errors use).

    `labels` and `amplify` are None or one entry per model; `amplify` may also hold a single
    spec for every model, and `"none"` leaves a model as it is.
    """

    models: tuple[str, ...]
    dataset: str
    out: Path
    labels: tuple[str, ...] | None = None
    adapter: str | None = None
    mode: Literal["letter", "option"] = "letter"
    option_choice: Literal["sum", "norm"] = "sum"
    limit: int | None = None
    batch_size: int = 32
    device: str = "auto"
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    trust_remote_code: bool = False
    n_bootstrap: int = 1000
    seed: int = 0
    progress: bool = True
    amplify: tuple[str, ...] | None = None
    amplify_queries: Literal["after-image", "all"] | None = None
    threads: int | None = None
    """torch CPU threads; None: the cores available to this process (as `mmsy eval`)."""

    def recorded(self) -> dict[str, Any]:
        """The `settings` block of probe.json / attention.json: what changes the numbers."""
        keep = ("dataset", "mode", "option_choice", "limit", "n_bootstrap", "seed", "batch_size")
        return {k: getattr(self, k) for k in keep}


@dataclass(frozen=True)
class AnalysedModel:
    """One model of an analysis: where it loads from, its legend name, its amplification."""

    source: str
    label: str
    amplify: AmplifySettings | None


@dataclass(frozen=True)
class ProbeRun:
    """What `run_probe` wrote: one result per model, in order, and the files."""

    results: list[ProbeResult]
    json: Path
    plot: Path


@dataclass(frozen=True)
class AttentionRun:
    """What `run_attention` wrote: one result per model, in order, and the files."""

    results: list[AttentionResult]
    json: Path
    plots: list[Path]


def local_adapter(name: str, source: str) -> type[VLMAdapter]:
    """The adapter class `name`, refused when it has no local weights (a model behind an API)."""
    from mmsy_dataset.adapters.registry import get_adapter

    cls = get_adapter(name)
    if not issubclass(cls, VLMAdapter):
        raise AnalysisError(
            f"model {source!r}: adapter {name!r} exposes no hidden states or attentions "
            "(a model behind an API); layer-wise analysis needs local weights"
        )
    return cls


def _amplify_plan(settings: AnalysisSettings) -> list[AmplifySettings | None]:
    """One `AmplifySettings` or None per model, every spec parsed and checked against its
    model's config before anything is loaded or written (a bad spec: one line)."""
    from mmsy_dataset.engine.amplify import preflight

    specs = settings.amplify
    if specs is None:
        if settings.amplify_queries is not None:
            raise AnalysisError("--amplify-queries needs --amplify")
        return [None] * len(settings.models)
    if len(specs) == 1:
        specs = specs * len(settings.models)
    elif len(specs) != len(settings.models):
        raise AnalysisError(
            f"--amplify: {len(specs)} given for {len(settings.models)} --model; give one for all or one per --model"
        )
    if settings.adapter is not None:
        local_adapter(settings.adapter, settings.models[0])  # an API model: that error, not a config lookup's
    plan: list[AmplifySettings | None] = []
    for source, spec in zip(settings.models, specs, strict=True):
        if spec.strip().lower() == "none":
            plan.append(None)
            continue
        amplify = AmplifySettings.parse(spec, settings.amplify_queries or "after-image")
        preflight(amplify, source, None, settings.trust_remote_code)
        plan.append(amplify)
    return plan


def plan_models(settings: AnalysisSettings) -> list[AnalysedModel]:
    """Each model with its legend name and amplification, checked before anything is loaded.

    Without `labels` a model is named after its folder, and an amplified one says so
    (`base +amp 3-4:0.9`), so an overlay of the same model with and without stays readable.
    """
    if settings.threads is not None and settings.threads < 1:
        raise AnalysisError(f"--threads: expected >= 1, got {settings.threads}")
    plan = _amplify_plan(settings)
    if settings.labels is None:
        names = [Path(m).name or m for m in settings.models]
        labels = [name if s is None else f"{name} +amp {s.spec}" for name, s in zip(names, plan, strict=True)]
    elif len(settings.labels) != len(settings.models):
        raise AnalysisError(f"--label: {len(settings.labels)} given for {len(settings.models)} --model")
    else:
        labels = list(settings.labels)
    return [AnalysedModel(s, label, a) for s, label, a in zip(settings.models, labels, plan, strict=True)]


def load_model(settings: AnalysisSettings, source: str, eager: bool) -> VLMAdapter:
    """Load a model through its adapter (refusing adapters without hidden states up front);
    `eager` switches it to the attention implementation that returns its weights."""
    from mmsy_dataset.adapters.registry import detect_adapter
    from mmsy_dataset.api.prompts import LoadOptions

    cls = local_adapter(settings.adapter or detect_adapter(source, settings.trust_remote_code), source)
    adapter = cls.load(source, LoadOptions(settings.device, settings.dtype, settings.trust_remote_code))
    if eager:
        use_eager_attention(adapter)
    return adapter


def _amplified(adapter: VLMAdapter, amplify: AmplifySettings | None) -> AbstractContextManager[Any]:
    """A context that installs eq. 7 on `adapter` for the analysis (nothing when `amplify` is
    None) and gives the model its attention back afterwards."""
    from mmsy_dataset.engine.amplify import Amplifier

    return nullcontext() if amplify is None else Amplifier(adapter, amplify)


def _with_amplify(
    result: ProbeResult | AttentionResult, adapter: VLMAdapter, amplify: AmplifySettings | None
) -> dict[str, Any]:
    """A result's JSON, with the amplification it ran under (None: the model as is)."""
    from mmsy_dataset.engine.amplify import text_depth

    recorded = None
    if amplify is not None:
        recorded = {**amplify.model_dump(mode="json"), "spec": amplify.spec, "text_layers": text_depth(adapter.model)}
    return {**result.model_dump(), "amplify": recorded}


def _collect(
    settings: AnalysisSettings,
    adapter: VLMAdapter,
    records: Sequence[QuestionRecord],
    label: str,
    hidden: bool,
    attention: bool,
) -> Contexts:
    """`contexts.collect` with the run's settings, seeded, under a progress bar."""
    import torch
    from rich.progress import Progress

    from mmsy_dataset.predictions import ScoringMode

    torch.manual_seed(settings.seed)
    with Progress(disable=not settings.progress, transient=True) as progress:
        task = progress.add_task(f"{label}: {len(records)} contexts", total=len(records))
        return collect(
            adapter,
            records,
            ScoringMode(settings.mode),
            hidden=hidden,
            attention=attention,
            batch_size=settings.batch_size,
            option_choice=settings.option_choice,
            advance=lambda n: progress.advance(task, n),
        )


def _write_results(settings: AnalysisSettings, name: str, models: list[dict[str, Any]]) -> Path:
    """`out/name` with the settings that change the numbers and one entry per model. Called
    once every model has been analysed, so a model that fails leaves no folder."""
    from mmsy_dataset.engine.outputs import write_json

    settings.out.mkdir(parents=True, exist_ok=True)
    path = settings.out / name
    write_json(path, {"settings": settings.recorded(), "models": models})
    return path


def _console(console: Any) -> Any:
    from rich.console import Console

    return console or Console(stderr=True)


def run_probe(settings: AnalysisSettings, console: Any = None) -> ProbeRun:
    """Per-layer probes of eq. 5 for every model: `out/probe.json` and `out/probe_auc.png`.

    Each model's train and test contexts are collected (amplified where asked) and a probe is
    fitted per layer; `console` (default stderr) gets each model's timings.
    """
    console = _console(console)
    models = plan_models(settings)
    set_torch_threads(settings.threads)
    train = load_probing(settings.dataset, "train", settings.limit)
    test = load_probing(settings.dataset, "test", settings.limit)
    results: list[ProbeResult] = []
    dumps: list[dict[str, Any]] = []
    for model in models:
        adapter = load_model(settings, model.source, eager=False)
        start = time.perf_counter()
        with _amplified(adapter, model.amplify):
            c_train = _collect(settings, adapter, train, model.label, hidden=True, attention=False)
            c_test = _collect(settings, adapter, test, model.label, hidden=True, attention=False)
        collected = time.perf_counter() - start
        result = fit_probes(
            c_train, c_test, label=model.label, model=model.source, n_bootstrap=settings.n_bootstrap, seed=settings.seed
        )
        results.append(result)
        dumps.append(_with_amplify(result, adapter, model.amplify))
        console.print(
            f"{model.label}: {len(train) + len(test)} contexts in {collected:.1f} s, probes in "
            f"{time.perf_counter() - start - collected:.1f} s"
        )
    path = _write_results(settings, "probe.json", dumps)
    plot = plot_probe(results, settings.out / "probe_auc.png")
    return ProbeRun(results=results, json=path, plot=plot)


def run_attention(
    settings: AnalysisSettings, split: Literal["test", "train", "all"] = "test", console: Any = None
) -> AttentionRun:
    """Attention to the image per layer for every model, over the probing `split`:
    `out/attention.json`, `out/attention_ratio.png` and `out/attention_mass.png`.

    `console` (default stderr) gets each model's timings.
    """
    console = _console(console)
    models = plan_models(settings)
    set_torch_threads(settings.threads)
    splits = ("train", "test") if split == "all" else (split,)
    records = [r for s in splits for r in load_probing(settings.dataset, s, settings.limit)]
    results: list[AttentionResult] = []
    dumps: list[dict[str, Any]] = []
    for model in models:
        # Eager attention before the Amplifier: its chosen layers then compute eq. 7 the eager
        # way and the others plain eager attention, so every layer returns the post-softmax
        # weights the model actually used, amplified where it was.
        adapter = load_model(settings, model.source, eager=True)
        start = time.perf_counter()
        with _amplified(adapter, model.amplify):
            contexts = _collect(settings, adapter, records, model.label, hidden=False, attention=True)
        console.print(f"{model.label}: {len(records)} contexts in {time.perf_counter() - start:.1f} s")
        result = attention_stats(
            contexts,
            label=model.label,
            model=model.source,
            split=split,
            n_bootstrap=settings.n_bootstrap,
            seed=settings.seed,
        )
        results.append(result)
        dumps.append(_with_amplify(result, adapter, model.amplify))
    path = _write_results(settings, "attention.json", dumps)
    plots = plot_attention(results, settings.out)
    return AttentionRun(results=results, json=path, plots=plots)
