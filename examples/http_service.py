"""An HTTP service as the system under test (architecture ``http``); n8n webhooks work the same way.

Baton POSTs the run's :class:`~baton.runners.AdapterRequest` as JSON and expects
``{"answer": "...", "hops": [...]}`` back. This service answers from the two documents that share
most words with the request, after looking up the ids the request mentions with the world's
``get_*`` tools through the run's MCP endpoint. Its model is any OpenAI-compatible endpoint::

    EXAMPLE_BASE_URL=http://127.0.0.1:8765/v1 EXAMPLE_MODEL=sim-frontier \\
        python examples/http_service.py          # serves POST http://127.0.0.1:8900/answer

    [http_example]
    architecture = "http"
    params = {url = "http://127.0.0.1:8900/answer", timeout_s = 60}

(``baton sim serve --port 8765`` serves the simulated vendor for it.)
"""

from __future__ import annotations

import os
import re
import time

from mcp import Client
from openai import AsyncOpenAI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]{3,}", text.lower()))


async def answer(request: Request) -> JSONResponse:
    started = time.perf_counter()
    body = await request.json()
    question: str = body["request"]
    hops = []

    ranked = sorted(body["documents"], key=lambda d: -len(_words(d["text"]) & _words(question)))[:2]
    hops.append({"kind": "retrieve", "name": "keyword_search", "started_s": time.perf_counter() - started,
                 "output": {"doc_ids": [d["id"] for d in ranked], "record_ids": []}})
    records = []
    ids = re.findall(r"#?\b([A-Za-z]*-?\d{3,}[\w-]*)", question)  # id-like tokens: 4471, C-1001
    if ids and body.get("mcp_url"):
        async with Client(body["mcp_url"]) as mcp:
            getters = [t for t in (await mcp.list_tools()).tools
                       if t.name.startswith("get_") and len(t.input_schema.get("required", [])) == 1]
            for value in ids[:2]:
                for tool in getters:  # the first getter that knows this id wins
                    result = await mcp.call_tool(tool.name, {tool.input_schema["required"][0]: value})
                    if not result.is_error:
                        records.append(result.content[0].text)
                        break

    context = "\n".join([f"[{d['id']}] {d['text']}" for d in ranked] + [f"[record] {r}" for r in records])
    # Forward Baton's run header: the simulated vendor answers from the gold of the task it names.
    forward = {k: v for k, v in request.headers.items() if k.lower() == "x-baton-run"}
    client = AsyncOpenAI(base_url=os.environ.get("EXAMPLE_BASE_URL", "http://127.0.0.1:8765/v1"),
                         api_key=os.environ.get("EXAMPLE_API_KEY", "not-needed"), default_headers=forward)
    at = time.perf_counter() - started
    completion = await client.chat.completions.create(
        model=os.environ.get("EXAMPLE_MODEL", "sim-frontier"),
        messages=[{"role": "system", "content": f"Answer the customer from this context only.\nContext:\n{context}"},
                  {"role": "user", "content": question}])
    text = completion.choices[0].message.content or ""
    usage = completion.usage
    hops.append({"kind": "generate", "name": "answer", "started_s": at, "latency_s": time.perf_counter() - started - at,
                 "output": {"text": text}, "model": completion.model,
                 "usage": {"input_tokens": usage.prompt_tokens if usage else 0,
                           "output_tokens": usage.completion_tokens if usage else 0, "calls": 1}})
    return JSONResponse({"answer": text, "hops": hops})


app = Starlette(routes=[Route("/answer", answer, methods=["POST"])])

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8900")))
