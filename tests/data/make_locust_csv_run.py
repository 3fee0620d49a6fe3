"""Regenerate ``tests/data/locust_csv_run/``: a plain Locust ``--csv`` run (no surgebench records).

Runs the real Locust (as a subprocess, headless, 5 users, 6 s) against a tiny loopback HTTP
server started here; one path answers 503 so the CSVs carry failures. The committed files are
what ``analysis.io`` must accept as a "Locust CSV only" run. Usage::

    .venv/bin/python tests/data/make_locust_csv_run.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_LOCUSTFILE = """
from locust import HttpUser, constant, task


class Caller(HttpUser):
    wait_time = constant(0.05)

    @task(9)
    def ok(self) -> None:
        self.client.get("/ok")

    @task(1)
    def busy(self) -> None:
        self.client.get("/busy")
"""


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 503 if self.path == "/busy" else 200
        body = b"overloaded" if status == 503 else b"hello"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


def main() -> None:
    out_dir = Path(__file__).parent / "locust_csv_run"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            locustfile = Path(tmp) / "locustfile.py"
            locustfile.write_text(_LOCUSTFILE)
            prefix = Path(tmp) / "run"
            cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless"]
            cmd += ["-u", "5", "-r", "5", "-t", "6s", "--host", host]
            cmd += ["--csv", str(prefix), "--csv-full-history", "--only-summary"]
            # Locust exits 1 when any request failed, which the 503 path guarantees.
            done = subprocess.run(cmd, check=False, timeout=60, capture_output=True, text=True)
            if done.returncode not in (0, 1) or not (Path(tmp) / "run_stats.csv").exists():
                raise RuntimeError(f"locust failed ({done.returncode}): {done.stderr[-2000:]}")
            shutil.rmtree(out_dir, ignore_errors=True)
            out_dir.mkdir(parents=True)
            for path in Path(tmp).glob("run_*.csv"):
                shutil.copy(path, out_dir / path.name)
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
