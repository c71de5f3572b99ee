"""The ``echo`` vendor kind: an embedded OpenAI-compatible endpoint (stdlib HTTP server on
loopback) that answers every chat call with the first sentence of its system context."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from baton.vendor_kinds import VendorKind


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        messages = body.get("messages", [])
        system = next((m["content"] for m in messages if m.get("role") == "system"), "")
        context = system.split("Context:", 1)[-1].strip()
        text = "Echo: " + (context.split(".")[0].strip() + "." if context else "nothing to say.")
        reply = {"id": "echo-1", "object": "chat.completion", "created": 0, "model": body.get("model", "echo"),
                 "choices": [{"index": 0, "finish_reason": "stop",
                              "message": {"role": "assistant", "content": text}}],
                 "usage": {"prompt_tokens": 10, "completion_tokens": len(text.split()), "total_tokens": 20}}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


class EchoServer:
    def __init__(self) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)


async def start_echo(profile, context) -> EchoServer:
    return EchoServer()


ECHO = VendorKind("echo", start_echo, description="answers with the first sentence of its context")
