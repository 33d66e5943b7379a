"""Search over schedules: estimate, bound, and the local search that uses both.

* :mod:`mcmsim.search.estimate` — analytical steady-state estimate of a schedule;
* :mod:`mcmsim.search.bound` — LP upper bound on throughput (``optimality_ratio``);
* :mod:`mcmsim.search.makespan_bound` — lower bound on a batch run's makespan (its ratio);
* :mod:`mcmsim.search.objective` — ranking by a shared objective and latency constraints;
* :mod:`mcmsim.search.reference` — each model's reference rate for the objectives;
* :mod:`mcmsim.search.moves` — neighbourhood moves;
* :mod:`mcmsim.search.pool` — simulating batches of schedules, optionally in parallel;
* :mod:`mcmsim.search.tabu` — the tabu search behind the ``local-search`` scheduler;
* :mod:`mcmsim.search.evolve` — its evolutionary alternative (``strategy = "evolve"``);
* :mod:`mcmsim.search.history` — search.csv and search.png.

The search builds on the API (:mod:`mcmsim.search.pool` calls :func:`mcmsim.simulate`);
the API imports the bound only inside :func:`mcmsim.simulate`, so the dependency is one-way
at import time (tests/test_layering.py checks there is no cycle).
"""
