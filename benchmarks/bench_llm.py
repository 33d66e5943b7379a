"""Generation-serving speed: 1,000 chat requests of 200 output tokens (200k tokens).

Run: ``python benchmarks/bench_llm.py [--requests 1000] [--output-tokens 200]``.

GPT-2 (small) on the 2x2 heterogeneous package of scenarios/llm_chat_vision.toml,
alone, with Poisson arrivals at 20 requests/s, 128-token prompts and continuous
batching (max_batch 32), scheduled by ``greedy``. Reports the wall time of the
simulation (scheduling excluded), SimPy events per generated token and per iteration,
and the peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import mcmsim

SCENARIO = """
name = "bench_llm"
[package]
layout = [["ws", "os"], ["os", "ws"]]
[package.chiplet_types.ws]
dataflow = "ws"
pes = 4096
[package.chiplet_types.os]
dataflow = "os"
pes = 4096

[[workloads]]
model = "gpt2"
stream = {{ kind = "poisson", rate_per_s = 20 }}
[workloads.generation]
prompt_tokens = 128
output_tokens = {output}
max_batch = 32
max_tokens_per_iteration = 512

[scheduler]
name = "greedy"

[simulation]
seed = 1
requests = {requests}
warmup = "none"
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--output-tokens", type=int, default=200)
    args = parser.parse_args()
    scenario = mcmsim.parse_scenario(
        SCENARIO.format(requests=args.requests, output=args.output_tokens)
    )
    schedule = mcmsim.schedule(scenario)
    start = time.perf_counter()
    results = mcmsim.simulate(scenario, schedule)
    wall_s = time.perf_counter() - start
    generation = results.models["gpt2"]["generation"]
    tokens = generation["requests"]["finished_total"] * args.output_tokens
    iterations = generation["iterations"]["count"]
    events = results["simulated_events"]
    print(
        json.dumps(
            {
                "requests": args.requests,
                "generated_tokens": tokens,
                "wall_s": round(wall_s, 2),
                "iterations": iterations,
                "events": events,
                "events_per_generated_token": round(events / tokens, 2),
                "events_per_iteration": round(events / iterations, 2),
                "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "output_tokens_per_s_simulated": round(generation["output_tokens_per_s"], 1),
                "mean_requests_per_iteration": round(generation["iterations"]["mean_requests"], 2),
                "limited_by": generation["limited_by"]["bound"],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
