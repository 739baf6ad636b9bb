"""torch's thread count is set deliberately: the cores this process may use, or `--threads`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from mmsy_dataset.threads import available_cores, cgroup_cpus, set_torch_threads


@pytest.mark.parametrize(("text", "cpus"), [("max 100000\n", None), ("150000 100000\n", 2), ("50000 100000", 1),
                                            ("garbage", None), ("", None)])
def test_cgroup_quota_is_read(tmp_path: Path, text: str, cpus: int | None) -> None:
    path = tmp_path / "cpu.max"
    path.write_text(text)
    assert cgroup_cpus(path) == cpus
    assert cgroup_cpus(tmp_path / "missing") is None


def test_default_is_the_cores_this_process_may_use() -> None:
    cores = available_cores()
    assert 1 <= cores <= len(os.sched_getaffinity(0))
    before = torch.get_num_threads()
    try:
        assert set_torch_threads(None) == cores == torch.get_num_threads()
        assert set_torch_threads(1) == 1 == torch.get_num_threads()
        with pytest.raises(ValueError, match="threads"):
            set_torch_threads(0)
    finally:
        torch.set_num_threads(before)
