"""Time the full default build of the synthetic MM-SY.

    python benchmarks/build_speed.py [--out DIR] [--image-size 224] [--keep]

Prints questions (images) drawn per second, total seconds, records written and the folder's
size. The figures are recorded with machine and date in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from rich.console import Console

from mmsy_dataset.build import BuildConfig, build_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="where to build (default: a temporary folder)")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--keep", action="store_true", help="keep the built folder")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mmsy-bench-"))
    out = args.out or root / "mmsy-data"
    config = BuildConfig(source_options={"image_size": args.image_size})
    start = time.perf_counter()
    result = build_dataset(config, out, overwrite=True, console=Console(file=io.StringIO()))
    seconds = time.perf_counter() - start
    records = sum(sum(t.values()) for splits in result.counts.values() for t in splits.values())
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, python {platform.python_version()}")
    print(f"images drawn:     {result.items:,}")
    print(f"records written:  {records:,}")
    print(f"total seconds:    {seconds:.1f}")
    print(f"images / second:  {result.items / seconds:.0f} (whole build, writing included)")
    print(f"folder size:      {result.size_bytes / 2**20:.1f} MiB")
    print(f"checksum:         {result.checksum}")
    if not args.keep and args.out is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
