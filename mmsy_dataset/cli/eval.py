"""`mmsy eval`: the MM-SY protocol on one VLM, local or behind an HTTP API.

mmsy eval --model llava-hf/llava-1.5-7b-hf --dataset ./mmsy --out runs/llava --mode letter
mmsy eval --model llava-hf/llava-1.5-7b-hf --dataset ./mmsy --out runs/llava --shard 0/4   # ... 3/4
mmsy merge runs/llava --out runs/llava     # see cli/merge.py
mmsy eval --model llava-hf/llava-1.5-7b-hf --dataset ./mmsy --out runs/llava-amp --amplify 16-32:0.9
mmsy eval --api-base http://localhost:8000/v1 --api-model Qwen/Qwen2-VL-2B-Instruct --dataset ./mmsy \
    --out runs/qwen-api --mode text
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from mmsy_dataset.cli.common import add_resamples_option, add_threads_option
from mmsy_dataset.tasks import BENCHMARK_CONFIGS

if TYPE_CHECKING:
    from mmsy_dataset.engine.config import EvalConfig


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval",
        help="run the MM-SY protocol on a VLM and write predictions, metrics, transcripts, plots",
        description="Run the MM-SY protocol on a vision-language model. A run killed midway resumes "
        "when restarted with the same arguments.",
    )
    p.add_argument(
        "--model",
        default=None,
        help="Hub id or local folder of the model (with --api-base: a label, default the --api-model name)",
    )
    p.add_argument("--adapter", default=None, help="adapter name (default: detected from config.json)")
    p.add_argument("--dataset", required=True, help="MM-SY Hub-layout folder or Hub dataset id")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument(
        "--configs",
        nargs="+",
        default=list(BENCHMARK_CONFIGS),
        choices=BENCHMARK_CONFIGS,
        metavar="CONFIG",
        help=f"splits to run (default: all of {', '.join(BENCHMARK_CONFIGS)})",
    )
    p.add_argument("--split", default="test")
    p.add_argument("--limit", type=int, default=None, help="at most N records per config (quick runs)")
    p.add_argument(
        "--mode",
        choices=("letter", "option", "text"),
        default="letter",
        help="letter: label logits (paper); option: option-text likelihood; text: generate",
    )
    p.add_argument(
        "--option-choice",
        choices=("sum", "norm"),
        default="sum",
        help="option mode: choose by summed or length-normalised log-likelihood",
    )
    p.add_argument("--prompt-baseline", action="store_true", help="prepend the system prompt of paper 3.2")
    p.add_argument(
        "--chat-format",
        choices=("auto", "template", "family"),
        default="auto",
        help="auto (default): the checkpoint's chat template when it has one, else the adapter's built-in format; "
        "family: the built-in format (for llava, the paper's LLaVA-1.5 conversation); template: the checkpoint's",
    )
    add_threads_option(p)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--chunk-questions", type=int, default=64, help="questions whose round-1 caches are held at once")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument(
        "--dtype",
        choices=("auto", "float32", "float16", "bfloat16"),
        default="auto",
        help="auto: float16 on GPU, float32 on CPU",
    )
    p.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow the model repo's own Python code to run (off unless passed)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-new-tokens", type=int, default=32, help="text mode: longest reply")
    add_resamples_option(p, dest="n_bootstrap")
    p.add_argument("--overwrite", action="store_true", help="delete an existing run in --out")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--shard",
        default=None,
        metavar="I/N",
        help="run only shard I of N (0-based) into OUT/shard-I-of-N; join the shards with `mmsy merge`. "
        "'auto': RANK/WORLD_SIZE (accelerate launch, torchrun) or the SLURM job array's task id/count",
    )
    amp = p.add_argument_group("attention amplification (paper 4.3, eq. 7; local models)")
    amp.add_argument(
        "--amplify",
        default=None,
        metavar="FIRST-LAST:LAMBDA",
        help="add LAMBDA*|e| to the attention logits e of image keys in text layers FIRST..LAST "
        "(1-based, inclusive), e.g. 17-32:0.9",
    )
    amp.add_argument(
        "--amplify-queries",
        choices=("after-image", "all"),
        default=None,
        help="query rows amplified: the positions after the image (default) or all rows, image tokens included",
    )
    api = p.add_argument_group("OpenAI-compatible HTTP server (closed models, vLLM, TGI, ...)")
    api.add_argument("--api-base", default=None, help="base URL with /v1, e.g. http://localhost:8000/v1")
    api.add_argument("--api-model", default=None, help="model name sent with each request")
    api.add_argument(
        "--api-key-env",
        default="OPENAI_API_KEY",
        help="environment variable holding the API key (default OPENAI_API_KEY; never written anywhere)",
    )
    api.add_argument("--max-concurrency", type=int, default=8, help="requests in flight at once (default 8)")
    api.add_argument("--timeout", type=float, default=60.0, help="seconds per request attempt (default 60)")
    api.add_argument("--retries", type=int, default=5, help="extra attempts on 429 / 5xx / timeout (default 5)")
    api.add_argument("--top-logprobs", type=int, default=20, help="letter mode: alternatives per position")
    p.set_defaults(handler=run_eval_command)


def config_from_args(args: argparse.Namespace) -> EvalConfig:
    """The run's settings from the flags; a contradictory combination is a one-line `MmsyError`."""
    from mmsy_dataset.api.settings import ApiSettings
    from mmsy_dataset.engine.config import AmplifySettings, EvalConfig
    from mmsy_dataset.engine.shard import Shard
    from mmsy_dataset.errors import MmsyError

    api = None
    if args.api_base is not None:
        if not (args.api_model or args.model):
            raise MmsyError("--api-base needs --api-model (the model name the server knows)")
        api = ApiSettings(
            base=args.api_base,
            model=args.api_model or args.model,
            key_env=args.api_key_env,
            max_concurrency=args.max_concurrency,
            timeout=args.timeout,
            retries=args.retries,
            top_logprobs=args.top_logprobs,
        )
    elif args.model is None:
        raise MmsyError("--model is required (or --api-base and --api-model for a model behind an HTTP API)")
    model = args.model or (api.model if api else "")
    amplify = None
    if args.amplify is not None:
        amplify = AmplifySettings.parse(args.amplify, args.amplify_queries or "after-image")
    elif args.amplify_queries is not None:
        raise MmsyError("--amplify-queries needs --amplify")
    return EvalConfig(
        amplify=amplify,
        model=model,
        shard=Shard.parse(args.shard) if args.shard else None,
        api=api,
        adapter=args.adapter,
        dataset=args.dataset,
        out=args.out,
        configs=args.configs,
        split=args.split,
        limit=args.limit,
        mode=args.mode,
        option_choice=args.option_choice,
        prompt_baseline=args.prompt_baseline,
        chat_format=args.chat_format,
        threads=args.threads,
        batch_size=args.batch_size,
        chunk_questions=args.chunk_questions,
        device=args.device,
        dtype=args.dtype,
        trust_remote_code=args.trust_remote_code,
        seed=args.seed,
        max_new_tokens=args.max_new_tokens,
        n_bootstrap=args.n_bootstrap,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )


def run_eval_command(args: argparse.Namespace) -> int:
    """Run `mmsy eval`; errors of the `MmsyError` family are for the CLI to print."""
    from mmsy_dataset.engine.run import run_eval

    config = config_from_args(args)
    result = run_eval(config)
    print(f"wrote {result.folder.out}")
    return 0
