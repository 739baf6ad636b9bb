"""`mmsy analyze probe` and `mmsy analyze attention`: paper section 4 on local models.

mmsy analyze probe --model runs/base --model runs/sft --label base --label SFT --dataset ./mmsy \
    --out runs/analysis --mode option
mmsy analyze attention --model runs/base --model runs/sft --dataset ./mmsy --out runs/analysis
mmsy analyze attention --model runs/base --model runs/base --label base --label amplified \
    --amplify none --amplify 3-4:0.9 --dataset ./mmsy --out runs/analysis

The analyses themselves (loading, amplification, contexts, results and figures) are
`mmsy_dataset.analysis.run`; this module parses the flags into its settings and prints.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from mmsy_dataset.cli.common import add_resamples_option, add_threads_option

if TYPE_CHECKING:
    from mmsy_dataset.analysis.run import AnalysisSettings


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
    probe.set_defaults(handler=run_probe_command)
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
    attention.set_defaults(handler=run_attention_command)


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
    add_threads_option(p)
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", choices=("auto", "float32", "float16", "bfloat16"), default="auto")
    p.add_argument("--trust-remote-code", action="store_true")
    add_resamples_option(p, dest="n_bootstrap")
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


def settings_from_args(args: argparse.Namespace) -> AnalysisSettings:
    """The analysis settings from the flags (checked by `analysis.run` before anything loads)."""
    from mmsy_dataset.analysis.run import AnalysisSettings

    return AnalysisSettings(
        models=tuple(args.model),
        labels=None if args.label is None else tuple(args.label),
        adapter=args.adapter,
        dataset=args.dataset,
        out=args.out,
        mode=args.mode,
        option_choice=args.option_choice,
        limit=args.limit,
        batch_size=args.batch_size,
        device=args.device,
        dtype=args.dtype,
        trust_remote_code=args.trust_remote_code,
        n_bootstrap=args.n_bootstrap,
        seed=args.seed,
        progress=not args.no_progress,
        amplify=None if args.amplify is None else tuple(args.amplify),
        amplify_queries=args.amplify_queries,
        threads=args.threads,
    )


def run_probe_command(args: argparse.Namespace) -> int:
    """Run `mmsy analyze probe`: the probes, then their table and where they were written."""
    from rich.console import Console

    from mmsy_dataset.analysis.run import run_probe
    from mmsy_dataset.analysis.tables import probe_table

    run = run_probe(settings_from_args(args), console=Console(stderr=True))
    console = Console()
    console.print(probe_table(run.results))
    for r in run.results:
        if r.undefined:
            console.print(f"{r.label}: AUC undefined: {r.undefined}")
        console.print(f"{r.label}: train {r.train}; test {r.test}")
    print(f"wrote {run.json} and {run.plot}")
    return 0


def run_attention_command(args: argparse.Namespace) -> int:
    """Run `mmsy analyze attention`: the statistics, then their table and where they were written."""
    from rich.console import Console

    from mmsy_dataset.analysis.run import run_attention
    from mmsy_dataset.analysis.tables import attention_table

    run = run_attention(settings_from_args(args), split=args.split, console=Console(stderr=True))
    Console().print(attention_table(run.results))
    print(f"wrote {run.json}, " + ", ".join(str(p) for p in run.plots))
    return 0
