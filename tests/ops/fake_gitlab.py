"""A local stand-in for GitLab's REST API: records every request and answers the few the ops commands make."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Answer = tuple[int, Any, dict[str, str]]
"""HTTP status, JSON payload, extra headers."""


@dataclass
class FakeGitLab:
    """State of the fake instance: merge request notes, runners and their managers, and what was asked."""

    notes: list[dict[str, Any]] = field(default_factory=list)
    runners: dict[str, dict[str, Any]] = field(default_factory=dict)
    managers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    fail_with: int | None = None
    user_id: int = 1
    """The id of the user the token belongs to (GET /user)."""
    redirect_to: str | None = None
    """Answer every request with a 307 to this URL (a moved instance, or a hostile proxy)."""
    link_headers: bool = True
    """Send Link / X-Next-Page pagination headers (some proxies and older instances do not)."""
    url: str = ""

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Answer:
        if self.redirect_to is not None:
            return 307, {}, {"Location": self.redirect_to + path}
        if path == "/api/v4/user":
            return 200, {"id": self.user_id, "username": "runner-fleet-bot"}, {}
        if self.fail_with is not None:
            return self.fail_with, {"message": "403 Forbidden - the token may not write notes"}, {}
        if path.startswith("/api/v4/runners/"):
            return self._runners(method, path)
        return self._notes(method, path, query, body)

    def _notes(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Answer:
        notes = re.fullmatch(r"/api/v4/projects/(\d+)/merge_requests/(\d+)/notes(?:/(\d+))?", path)
        if notes and method == "GET" and notes[3] is None:
            page, per_page = int(query.get("page", ["1"])[0]), int(query.get("per_page", ["20"])[0])
            chunk = self.notes[(page - 1) * per_page : page * per_page]
            headers = {"X-Page": str(page), "X-Per-Page": str(per_page), "X-Total": str(len(self.notes))}
            if page * per_page < len(self.notes) and self.link_headers:
                link = f"{self.url}{path}?page={page + 1}&per_page={per_page}"
                headers |= {"Link": f'<{link}>; rel="next"', "X-Next-Page": str(page + 1)}
            return 200, chunk, headers
        if notes and method == "POST":
            note = {"id": 1000 + len(self.notes), "body": body["body"], "system": False, "author": {"id": self.user_id}}
            self.notes.append(note)
            return 201, note, {}
        if notes and method == "PUT" and notes[3] is not None:
            (note,) = [n for n in self.notes if n["id"] == int(notes[3])]
            note["body"] = body["body"]
            return 200, note, {}
        return 404, {"message": "404 Not Found"}, {}

    def _runners(self, method: str, path: str) -> Answer:
        runner = re.fullmatch(r"/api/v4/runners/(\w+)(/managers)?", path)
        if runner and method == "GET" and runner[1] in self.runners:
            if runner[2]:
                return 200, self.managers.get(runner[1], []), {}
            return 200, self.runners[runner[1]], {}
        return 404, {"message": "404 Not Found"}, {}


@contextmanager
def serve(fake: FakeGitLab) -> Iterator[FakeGitLab]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            content_type = self.headers.get("Content-Type", "")
            if raw and "json" in content_type:
                body = json.loads(raw)
            else:
                body = {k: v[0] for k, v in parse_qs(raw.decode()).items()} if raw else {}
            fake.requests.append((self.command, parts.path, dict(self.headers)))
            status, payload, headers = fake.handle(self.command, parts.path, parse_qs(parts.query), body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
