"""The persistent prefix KV cache: round trip, integrity checks, size bound."""

from __future__ import annotations

import os

from docqa.adapters.llama_kvcache import PrefixCache


class FakeEngine:
    def __init__(self, key: str = "model-a", state: bytes = b"kv" * 1000):
        self.key = key
        self.state = state
        self.loaded: tuple[bytes, list[int]] | None = None

    def save_state(self) -> bytes:
        return self.state

    def load_state(self, data: bytes, tokens: list[int]) -> bool:
        self.loaded = (data, list(tokens))
        return True


def test_round_trip_and_miss(tmp_path):
    cache = PrefixCache(tmp_path)
    engine = FakeEngine()
    assert not cache.load(engine, [1, 2, 3])
    cache.save(engine, [1, 2, 3])
    other = FakeEngine()
    assert cache.load(other, [1, 2, 3])
    assert other.loaded == (engine.state, [1, 2, 3])
    assert not cache.load(other, [1, 2, 4])  # another prefix
    assert not cache.load(FakeEngine(key="model-b"), [1, 2, 3])  # another model
    assert (cache.hits, cache.misses) == (1, 3)


def test_a_corrupt_file_is_removed_not_trusted(tmp_path):
    cache = PrefixCache(tmp_path)
    engine = FakeEngine()
    path = cache.save(engine, [5, 6])
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # flip a bit of the payload
    path.write_bytes(bytes(data))
    fresh = FakeEngine()
    assert not cache.load(fresh, [5, 6]) and fresh.loaded is None
    assert not path.exists()
    path.write_bytes(b"garbage")
    assert not cache.load(fresh, [5, 6]) and not path.exists()


def test_the_folder_stays_under_its_bound_evicting_least_recently_used(tmp_path):
    cache = PrefixCache(tmp_path, max_bytes=7000)
    engine = FakeEngine(state=b"x" * 2000)
    paths = [cache.save(engine, [i]) for i in range(3)]
    for n, p in enumerate(paths[:2]):
        os.utime(p, (1000 + n, 1000 + n))
    cache.load(FakeEngine(state=b"x" * 2000), [0])  # [0] becomes the most recently used
    cache.save(engine, [3])
    left = sorted(p.name for p in tmp_path.glob("*.kv"))
    assert sum(p.stat().st_size for p in tmp_path.glob("*.kv")) <= 7000
    assert cache.path_for("model-a", [0]).name in left
    assert cache.path_for("model-a", [1]).name not in left
    assert cache.path_for("model-a", [3]).name in left
