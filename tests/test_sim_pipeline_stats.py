"""Simulation check: six chained classification hops at a 3% wrong-label rate succeed ~0.97^6 of runs.

The ~3,500 calls go over loopback HTTP with a plain httpx client (the openai client costs ~1 ms of
CPU per call, which would make this test slow; test_client_vendor covers that path)."""

from __future__ import annotations

import asyncio
import json

import httpx

from baton.sim import SimKnobs, SimServer
from baton.stats import wilson_interval

RATE = 0.03
HOPS = [  # (labels, the hop's question) - each hop also sees the previous hop's label
    (["billing", "shipping", "returns"], "The parcel with my order never arrived, where is the shipping?"),
    (["urgent", "routine"], "It is urgent: the delivery is a week late."),
    (["carrier_a", "carrier_b"], "The tracking number starts with carrier_b."),
    (["refund", "resend"], "Please resend the package to me."),
    (["email", "phone"], "Contact me by email please."),
    (["english", "german"], "Reply in german, bitte."),
]
RUNS = 700


async def _run_pipeline(client: httpx.AsyncClient, run: int, truth: list[str]) -> list[str]:
    previous = "none"
    labels = []
    for hop, (choices, question) in enumerate(HOPS):
        schema = {"type": "object", "properties": {"label": {"type": "string", "enum": choices}},
                  "required": ["label"]}
        messages = [{"role": "system", "content": f"Pick one label: {', '.join(choices)}."},
                    {"role": "user", "content": f"Previous step: {previous}\nQuestion: {question}"}]
        reply = await client.post("/chat/completions", json={
            "model": "sim-3pct", "messages": messages, "seed": run * 10 + hop,
            "response_format": {"type": "json_schema", "json_schema": {"name": "hop", "schema": schema}}})
        previous = json.loads(reply.json()["choices"][0]["message"]["content"])["label"]
        labels.append(previous)
        if previous != truth[hop]:
            break  # the chain is broken: later hops see a wrong input
    return labels


async def test_six_hop_success_rate_matches_the_product_of_hop_rates() -> None:
    truth = ["shipping", "urgent", "carrier_b", "resend", "email", "german"]
    async with SimServer({"sim-3pct": SimKnobs(wrong_label=RATE)}) as server:
        gate = asyncio.Semaphore(8)  # few requests in flight: httpcore's pool queue is O(n^2) when long

        async def one(run: int) -> list[str]:
            async with gate:
                return await _run_pipeline(client, run, truth)

        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
            results = await asyncio.gather(*(one(run) for run in range(RUNS)))
    correct = sum(labels == truth for labels in results)
    low, high = wilson_interval(correct, RUNS)
    assert high - low < 0.06, (low, high)
    assert low <= (1 - RATE) ** 6 <= high, (correct, low, high)
    assert correct < RUNS  # the errors really happen
