"""Search over schedules: estimate, bound, and the local search that uses both.

* :mod:`mcmsim.search.estimate` — analytical steady-state estimate of a schedule;
* :mod:`mcmsim.search.bound` — LP upper bound on throughput (``optimality_ratio``);
* :mod:`mcmsim.search.objective` — objectives, latency constraints, ranking;
* :mod:`mcmsim.search.moves` — neighbourhood moves;
* :mod:`mcmsim.search.pool` — simulating batches of schedules, optionally in parallel;
* :mod:`mcmsim.search.tabu` — the tabu search behind the ``local-search`` scheduler;
* :mod:`mcmsim.search.history` — search.csv and search.png.

This package is imported by :mod:`mcmsim.api` (for the bound), so it imports nothing
that imports the API at package level.
"""
