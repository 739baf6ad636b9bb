from __future__ import annotations

from mmsy_dataset.adapters.base import ImageCache
from tests.helpers import png


def test_each_image_is_processed_once_and_the_least_recent_is_dropped() -> None:
    calls: list[tuple[int, int]] = []

    def process(pil):  # type: ignore[no-untyped-def]
        calls.append(pil.size)
        return len(calls)

    cache = ImageCache(process, size=2)
    a, b, c = png((1, 0, 0), 8), png((0, 1, 0), 9), png((0, 0, 1), 10)
    assert [cache(a), cache(b), cache(a)] == [1, 2, 1]
    assert cache(c) == 3  # evicts b (a was used more recently)
    assert cache(a) == 1 and cache(b) == 4
    assert calls == [(8, 8), (9, 9), (10, 10), (9, 9)]
