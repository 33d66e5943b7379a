"""Time to build each zoo model's graph (best of three), from the model zoo's own builders.

Run: ``python benchmarks/bench_zoo.py``. Building is on the path of every scenario load,
so a model that takes more than ~0.1 s to build is worth a look.
"""

from __future__ import annotations

import time

from mcmsim.workloads.zoo import get_model, list_models


def best_build_s(name: str, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        get_model(name)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    print(f"{'model':<16} {'layers':>7} {'build ms':>9}")
    for name in list_models():
        model = get_model(name)
        print(f"{name:<16} {len(model.layers):>7} {best_build_s(name) * 1e3:>9.2f}")


if __name__ == "__main__":
    main()
