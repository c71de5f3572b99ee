"""Random valid task sets that appear nowhere in Baton: made-up domains, tools, record ids and documents.

Each generated :class:`GoldenTask` is valid (its gold replays to its final state) and its outcome
is one of act, answer, refuse or ask. Used by the simulated vendor's tests to check that the
oracle knows gold, not our fixtures.
"""

from __future__ import annotations

import random
import string
from typing import Any

from baton.task import GoldenTask
from baton.validate import replay_gold

_SYLLABLES = ["ka", "ro", "vi", "zu", "mel", "tor", "qua", "bix", "fen", "dra", "lo", "sy", "pim", "gar", "nu"]


def word(rng: random.Random, parts: int = 3) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(parts))


def record_id(rng: random.Random, prefix: str) -> str:
    return f"{prefix}-{rng.randrange(10000, 99999)}"


def _domain(rng: random.Random) -> dict[str, Any]:
    name = word(rng)
    noun = word(rng, 2)
    prefix = "".join(rng.choice(string.ascii_uppercase) for _ in range(2))
    unit = word(rng, 2)
    ids = [record_id(rng, prefix) for _ in range(4)]
    # a near-duplicate of the first id: same shape, one digit apart; then more open records
    ids.append(ids[0][:-1] + str((int(ids[0][-1]) + 1) % 10))
    ids += [record_id(rng, prefix) for _ in range(3)]
    records = {rid: {"owner": f"U{rng.randrange(100, 999)}", "level": float(rng.randrange(5, 500)),
                     "status": "open"} for rid in ids}
    records[ids[3]]["status"] = "sealed"
    modes = [word(rng, 2) for _ in range(3)]
    tools = [
        {"name": f"fetch_{noun}", "description": f"Read one {noun} record by its reference.",
         "parameters": {"type": "object", "properties": {"ref": {"type": "string"}}, "required": ["ref"]},
         "effect": {"op": "get", "collection": f"{noun}s", "key": "ref"}},
        {"name": f"list_{noun}", "description": f"List the {noun} records of an owner.",
         "parameters": {"type": "object", "properties": {"owner": {"type": "string"}}, "required": ["owner"]},
         "effect": {"op": "find", "collection": f"{noun}s", "match": {"owner": "owner"}}},
        {"name": f"settle_{noun}", "description": f"Settle a {noun} record with a level and a mode.",
         "parameters": {"type": "object", "properties": {
             "ref": {"type": "string"}, "level": {"type": "number"}, "mode": {"type": "string", "enum": modes},
             "tags": {"type": "array", "items": {"type": "string"}}},
             "required": ["ref", "level", "mode"]},
         "effect": {"op": "update", "collection": f"{noun}s", "key": "ref",
                    "require": [{"field": "status", "equals": "open",
                                 "error": "record {ref} is '{record[status]}'"},
                                {"param": "level", "lte_field": "level", "error": "level {level} too high"}],
                    "set": {"status": "settled", "settled_level": "$level", "mode": "$mode"},
                    "create": {"collection": "receipts", "id": "RC-{record[id]}-{seq}",
                               "fields": {"ref": "$record.id", "level": "$level"}},
                    "returns": {"receipt": "$created.id", "level": "$level", "wait": f"4 {unit}"}}},
    ]
    docs = [{"id": f"{name}-rules", "title": f"{name.title()} rules",
             "text": f"A {noun} record is settled at its full level. Settling takes 4 {unit}. "
                     f"A sealed {noun} can never be settled; owners may ask for a review within "
                     f"{rng.randrange(11, 60)} {unit}."},
            {"id": f"{name}-old-rules", "title": f"{name.title()} rules (superseded)",
             "text": f"Settling took 9 {unit} under the superseded rules."}]
    return {"name": name, "noun": noun, "unit": unit, "ids": ids, "records": records, "modes": modes,
            "tools": tools, "docs": docs}


def _base(dom: dict[str, Any], slug: str, request: str, gold: dict[str, Any], tags: list[str]) -> dict[str, Any]:
    return {"id": f"{dom['name']}/{slug}", "version": 1, "domain": dom["name"], "title": slug,
            "request": request, "tags": tags,
            "routes": [{"label": f"{dom['noun']}_work", "description": f"Settle or change a {dom['noun']}."},
                       {"label": f"{dom['noun']}_info", "description": f"Questions about {dom['noun']} rules."},
                       {"label": "elsewhere", "description": "Anything else."}],
            "policy": f"Settle a {dom['noun']} only when it is open. Ask for the reference when it is not given.",
            "documents": dom["docs"], "tools": dom["tools"],
            "world": {"today": "2031-03-03", "collections": {f"{dom['noun']}s": dom["records"], "receipts": {}}},
            "gold": gold}


def _finish(data: dict[str, Any]) -> GoldenTask:
    """Validate, replay the gold calls and record the final state they reach."""
    task = GoldenTask.model_validate(data)
    world = replay_gold(task)
    snapshot = world.snapshot()
    before = task.world.collections
    final: dict[str, dict[str, Any]] = {}
    for collection, records in snapshot.items():
        for rid, record in records.items():
            if before.get(collection, {}).get(rid) != record:
                final.setdefault(collection, {})[rid] = record
    data["gold"]["final_state"] = final
    return GoldenTask.model_validate(data)


def act_task(rng: random.Random, dom: dict[str, Any], writes: int = 1) -> GoldenTask:
    """Settle ``writes`` open records named in the request."""
    open_ids = [rid for i, rid in enumerate(dom["ids"]) if i not in (3, 4)]
    noun, targets = dom["noun"], open_ids[:writes] if writes > 1 else [rng.choice(open_ids[:3])]
    mode = rng.choice(dom["modes"])
    calls, facts = [], []
    for i, rid in enumerate(targets):
        level = dom["records"][rid]["level"]
        calls += [{"name": f"fetch_{noun}", "arguments": {"ref": rid}},
                  {"name": f"settle_{noun}", "arguments": {"ref": rid, "level": level, "mode": mode}}]
        facts.append({"id": f"receipt_{i}", "kind": "id", "forms": [f"RC-{rid}-{i + 1}"]})
    facts.append({"id": "wait", "kind": "duration", "forms": [f"4 {dom['unit']}"]})
    refs = " and ".join(targets)
    request = f"Please settle {noun} {refs} in {mode} mode at the full level."
    gold = {"route": f"{noun}_work", "outcome": "act", "evidence": [f"{dom['name']}-rules"],
            "tool_calls": calls, "ordered": True, "facts": facts, "forbidden_claims": [f"9 {dom['unit']}"],
            "forbidden_actions": [{"name": f"settle_{noun}", "arguments": {"ref": dom["ids"][3]},
                                   "why": "sealed"}]}
    return _finish(_base(dom, f"settle-{writes}-{rng.randrange(10**6)}", request, gold, ["action"]))


def answer_task(rng: random.Random, dom: dict[str, Any]) -> GoldenTask:
    request = f"How long does settling a {dom['noun']} take under the {dom['name']} rules?"
    gold = {"route": f"{dom['noun']}_info", "outcome": "answer", "evidence": [f"{dom['name']}-rules"],
            "facts": [{"id": "wait", "kind": "duration", "forms": [f"4 {dom['unit']}"]}],
            "forbidden_claims": [f"9 {dom['unit']}"]}
    return _finish(_base(dom, f"ask-wait-{rng.randrange(10**6)}", request, gold, ["faq"]))


def refuse_task(rng: random.Random, dom: dict[str, Any]) -> GoldenTask:
    sealed = dom["ids"][3]
    request = f"Settle {dom['noun']} {sealed} now please, whatever its state."
    gold = {"route": f"{dom['noun']}_work", "outcome": "refuse", "evidence": [f"{dom['name']}-rules"],
            "tool_calls": [{"name": f"fetch_{dom['noun']}", "arguments": {"ref": sealed}}],
            "facts": [{"id": "sealed", "kind": "text", "forms": ["sealed"]}],
            "forbidden_actions": [{"name": f"settle_{dom['noun']}", "arguments": {"ref": sealed}, "why": "sealed"}]}
    return _finish(_base(dom, f"refuse-{rng.randrange(10**6)}", request, gold, ["refusal"]))


def ask_task(rng: random.Random, dom: dict[str, Any]) -> GoldenTask:
    request = f"I want my {dom['noun']} settled."
    gold = {"route": f"{dom['noun']}_work", "outcome": "ask",
            "facts": [{"id": "asks_reference", "kind": "text", "forms": ["reference"]}]}
    return _finish(_base(dom, f"ask-{rng.randrange(10**6)}", request, gold, ["missing_info"]))


def task_set(seed: int, domains: int = 3) -> list[GoldenTask]:
    """Act, answer, refuse and ask tasks over ``domains`` made-up domains."""
    rng = random.Random(seed)
    tasks: list[GoldenTask] = []
    for _ in range(domains):
        dom = _domain(rng)
        tasks += [act_task(rng, dom), act_task(rng, dom, writes=2), answer_task(rng, dom),
                  refuse_task(rng, dom), ask_task(rng, dom)]
    return tasks
