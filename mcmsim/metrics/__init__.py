"""From what the engine measured to the numbers users quote.

* :mod:`mcmsim.metrics.raw` — the engine-to-metrics contract (:class:`RawRun`);
* :mod:`mcmsim.metrics.collector` — per-request statistics in blocks, with snapshots;
* :mod:`mcmsim.metrics.steady_state` — warm-up truncation and confidence intervals;
* :mod:`mcmsim.metrics.summary` — :func:`summarize`: a raw run to :class:`Results`;
* :mod:`mcmsim.metrics.results` — the typed, immutable :class:`Results` (results.json);
* :mod:`mcmsim.metrics.slo`, :mod:`mcmsim.metrics.deadlines` — latency targets, frames;
* :mod:`mcmsim.metrics.objectives` — the named objectives that rank runs;
* :mod:`mcmsim.metrics.tracks` — names of chiplet, link and DRAM tracks.

The engine depends on this package (it fills a :class:`RawRun`); nothing here imports
the engine.
"""
