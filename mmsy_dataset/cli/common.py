"""Helpers shared by several command modules: the bootstrap flags and how a percentage prints."""

from __future__ import annotations

import argparse


def add_bootstrap_options(p: argparse.ArgumentParser) -> None:
    """`--bootstrap` (or `--n-bootstrap`, as `mmsy eval` and `mmsy analyze` spell it) and `--seed`,
    the same on every command that puts intervals on a metric."""
    p.add_argument(
        "--bootstrap",
        "--n-bootstrap",
        dest="bootstrap",
        type=int,
        default=1000,
        help="bootstrap resamples of questions (default 1000; 0: none)",
    )
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")


def pct(value: float | None) -> str:
    """A rate as a percentage with one decimal, or `undefined` where no record defines it."""
    return "undefined" if value is None else f"{100 * value:.1f}"
