"""Build the MM-SY dataset folder (Hub layout) — a thin wrapper over `mmsy build`.

    python builders/build_mmsy.py --out mmsy-data                       # synthetic world
    python builders/build_mmsy.py --source tdiuc --tdiuc-dir TDIUC --out mmsy-tdiuc
    python builders/build_mmsy.py --source mmsy-release --path MM-SY/data-00000-of-00001.parquet --out mmsy-release

The real sources are described in docs/real_sources.md (how to obtain TDIUC, counts, timings).

Every flag of `mmsy build --help` is accepted. Publish the folder with `mmsy publish dataset
mmsy-data --repo <org>/mmsy`, which verifies it against its manifest and tags the version.
"""

from __future__ import annotations

import sys

from mmsy_dataset.cli import main

if __name__ == "__main__":
    sys.exit(main(["build", *sys.argv[1:]]))
