"""A real nginx for one test: the site ``provision init --web-proxy nginx`` wrote, in the
foreground, with everything it writes under the test's own directory.

scripts/setup installs nginx (``--tests``). The main configuration is the smallest that
includes a site: Debian's own ``/etc/nginx/nginx.conf`` is not read, and nothing of the
machine's nginx (its pid, logs or temporary files) is touched.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.ports import wait_listening

TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


class Nginx:
    """``nginx -c <main> -p <directory>`` serving ``site`` on ``port`` (the site's own)."""

    def __init__(self, directory: Path, site: Path, port: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.port = port
        self.log_path = directory / "error.log"
        self.access_log = directory / "access.log"
        self.conf_path = directory / "nginx.conf"
        temp = "\n".join(f"    {kind}_temp_path {directory / kind};" for kind in TEMP_PATHS)
        self.conf_path.write_text(
            "daemon off;\n"
            "master_process on;\n"
            "worker_processes 1;\n"
            f"pid {directory / 'nginx.pid'};\n"
            f"error_log {self.log_path} info;\n"
            "events { worker_connections 64; }\n"
            "http {\n"
            f"    access_log {self.access_log};\n"
            f"{temp}\n"
            f"    include {site};\n"
            "}\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def check(self) -> str:
        """``nginx -t``'s verdict on the configuration (its output; it fails the test if bad)."""
        result = subprocess.run(
            ["nginx", "-t", "-p", f"{self.directory}/", "-c", str(self.conf_path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stderr

    def start(self) -> Nginx:
        out = self.directory / "nginx.out"
        with out.open("wb") as sink:
            self.proc = subprocess.Popen(
                ["nginx", "-p", f"{self.directory}/", "-c", str(self.conf_path)],
                stdout=sink,
                stderr=sink,
            )
        try:
            wait_listening(self.port, self.proc, out)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.log()}") from error
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: nginx's fast shutdown
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
