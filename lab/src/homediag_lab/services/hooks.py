"""A webhook receiver for the lab: records each request as one JSON line, answers with a fixed status.

``python -m homediag_lab.services.hooks ADDRESS PORT FILE [STATUS]``; run
inside a lab namespace by :func:`homediag_lab.support.start_hook_receiver`.
Bodies are capped at 1 MiB and every connection times out after 10 s.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MAX_BODY = 1024 * 1024
_lock = threading.Lock()


def main(argv: list[str]) -> None:
    address, port, path = argv[0], int(argv[1]), Path(argv[2])
    status = int(argv[3]) if len(argv) > 3 else 204

    class Handler(BaseHTTPRequestHandler):
        timeout = 10

        def do_POST(self) -> None:
            length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
            body = self.rfile.read(length)
            entry = {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace"),
                "body_b64": base64.b64encode(body).decode(),
            }
            with _lock, path.open("a") as out:
                out.write(json.dumps(entry) + "\n")
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            sys.stderr.write(f"hooks: {format % args}\n")

    server = ThreadingHTTPServer((address, port), Handler)
    print(f"ready: webhook receiver on {address}:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
