"""Helpers shared by several command modules: the bootstrap and thread flags, and how a
percentage prints."""

from __future__ import annotations

import argparse


def add_resamples_option(p: argparse.ArgumentParser, dest: str = "bootstrap") -> None:
    """The number of bootstrap resamples, spelled `--bootstrap` or `--n-bootstrap` on every
    command; `dest` is the attribute the command's handler reads."""
    p.add_argument(
        "--bootstrap",
        "--n-bootstrap",
        dest=dest,
        metavar="N",
        type=int,
        default=1000,
        help="bootstrap resamples of questions (default 1000; 0: none)",
    )


def add_bootstrap_options(p: argparse.ArgumentParser) -> None:
    """`--bootstrap` and `--seed`, the same on every command that only bootstraps (its seed
    seeds nothing else)."""
    add_resamples_option(p)
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")


def add_threads_option(p: argparse.ArgumentParser) -> None:
    """`--threads`, on every command that runs a model on the CPU."""
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: the cores available to this process; 1 on a busy shared machine)",
    )


def pct(value: float | None) -> str:
    """A rate as a percentage with one decimal, or `undefined` where no record defines it."""
    return "undefined" if value is None else f"{100 * value:.1f}"
