"""Two `hallsense hub web` processes behind one nginx, sharing a PostgreSQL hub store, as
a council runs the hub's web on two machines: a session made on one works on the other,
wrong passwords spread over both still meet the limit, an offline hall alerts the team
once and its recovery once whichever process watches, and when one process is killed
(SIGKILL: its machine gone) nginx's requests go on to the other with the same session."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import requests

from hub.store_postgres import PostgresHubStore
from provisioning.broker_config import HUB_ACCOUNT
from provisioning.state import load_state
from tests.hub.web_support import PASSWORD, account
from tests.support.broker import free_port
from tests.support.edge_process import write_env
from tests.support.nginx import Nginx
from tests.support.ports import wait_listening
from tests.support.provisioned import provision

pytestmark = pytest.mark.slow

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM_COOKIE, SESSION_COOKIE = "__Host-hallsense_form", "__Host-hallsense"


class Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self):
        Hook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def web_process(hub_env: Path, state_dir: Path, port: int, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "hallsense", "hub", "web", "--env", str(hub_env),
             "--state-dir", str(state_dir), "--plain-http-behind-proxy",
             "--host", "127.0.0.1", "--port", str(port)],
            stdout=out, stderr=out,
        )  # fmt: skip


def cookies(answer: requests.Response) -> dict[str, str]:
    # The hub's cookies are Secure (the proxy terminates TLS): requests would keep them
    # from plain HTTP, so the test carries them itself.
    return {c.name: c.value for c in answer.cookies}


def log_in(base: str, password: str) -> requests.Response:
    form_page = requests.get(f"{base}/login", timeout=10)
    form = {"username": "alice", "password": password}
    form["csrf_token"] = CSRF.search(form_page.text).group(1)
    return requests.post(
        f"{base}/login",
        data=form,
        cookies={FORM_COOKIE: cookies(form_page)[FORM_COOKIE]},
        allow_redirects=False,
        timeout=10,
    )


def wait_for(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_two_web_processes_share_sessions_throttles_and_alerts_and_survive_one_lost(
    tmp_path, pg_cluster
):
    state_dir = tmp_path / "state"
    provision(
        "init", "--state-dir", state_dir, "--hostname", "localhost", "--ip", "127.0.0.1",
        "--port", free_port(), "--service-port", free_port(), "--broker-user", "root",
        "--ws-port", 0,
    )  # fmt: skip
    state = load_state(state_dir)
    url = pg_cluster.new_database()
    store = PostgresHubStore(url)
    account(store, "alice")
    store.add_device("askrigg", "Askrigg Village Hall")
    hour_ago = (time.time_ns() // 1000) - 3_600_000_000
    store.record_status("askrigg", False, "", hour_ago)  # installed, gone an hour since

    Hook.received = []
    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, args=(0.05,), daemon=True).start()
    hub_env = write_env(
        tmp_path / "hub.env",
        hub_store=url,
        broker_host="localhost",
        broker_password_file=state.layout.account_password_path(HUB_ACCOUNT),
        broker_ca_file=state.layout.ca_cert,
        alert_webhook_url=f"http://127.0.0.1:{hook.server_address[1]}/hook",
        alert_after_s=0,
        alert_check_s=5,
    )
    ports = [free_port(), free_port()]
    front = free_port()
    site = tmp_path / "hub-site.conf"
    site.write_text(
        "log_format upstreams '$upstream_addr $status';\n"
        f"upstream hub {{ server 127.0.0.1:{ports[0]}; server 127.0.0.1:{ports[1]}; }}\n"
        f"server {{\n    listen 127.0.0.1:{front};\n"
        f"    access_log {tmp_path / 'upstreams.log'} upstreams;\n"
        "    location / {\n        proxy_pass http://hub;\n"
        "        proxy_set_header Host $host;\n"
        "        proxy_set_header X-Forwarded-For $remote_addr;\n"
        "        proxy_set_header X-Forwarded-Proto https;\n"
        "        proxy_next_upstream error timeout;\n"
        "        proxy_connect_timeout 2s;\n    }\n}\n"
    )
    # The second machine has its own copy of the provisioning state: nothing is shared
    # but the hub store.
    second_state = tmp_path / "second-machine-state"
    shutil.copytree(state_dir, second_state)
    webs = [
        web_process(hub_env, where, port, tmp_path / f"web-{n}.log")
        for n, (where, port) in enumerate(zip((state_dir, second_state), ports, strict=True))
    ]
    nginx = Nginx(tmp_path / "nginx", site, front)
    try:
        for port, web, n in zip(ports, webs, (0, 1), strict=True):
            wait_listening(port, web, tmp_path / f"web-{n}.log")
        nginx.start()
        direct = [f"http://127.0.0.1:{port}" for port in ports]

        # A session made on one process is good on the other.
        answer = log_in(direct[0], PASSWORD)
        assert answer.status_code == 303
        session = {SESSION_COOKIE: cookies(answer)[SESSION_COOKIE]}
        fleet = requests.get(f"{direct[1]}/fleet", cookies=session, timeout=10)
        assert fleet.status_code == 200
        assert "Askrigg Village Hall" in fleet.text

        # Five wrong passwords, one process and then the other: the name is held on both.
        for n in range(5):
            assert log_in(direct[n % 2], "not the password at all").status_code == 401
        for base in direct:
            held = log_in(base, PASSWORD)
            assert held.status_code == 429
            assert int(held.headers["Retry-After"]) > 800

        # Both watch the fleet every 5 s: the offline hall is told once, then its recovery.
        wait_for(lambda: len(Hook.received) >= 1, 30, "no alert for the offline hall")
        time.sleep(6)  # another round of each process
        store.record_status("askrigg", True, "", time.time_ns() // 1000)
        wait_for(lambda: len(Hook.received) >= 2, 30, "no recovery notice")
        time.sleep(6)
        assert [(n["device_id"], n["recovered"]) for n in Hook.received] == [
            ("askrigg", False),
            ("askrigg", True),
        ]

        # One machine is lost: through nginx, the same session goes on being served.
        webs[0].send_signal(signal.SIGKILL)
        webs[0].wait(10)
        for _ in range(6):
            page = requests.get(f"http://127.0.0.1:{front}/fleet", cookies=session, timeout=10)
            assert page.status_code == 200
            assert "Askrigg Village Hall" in page.text
        served_by = (tmp_path / "upstreams.log").read_text()
        assert f"127.0.0.1:{ports[1]} 200" in served_by
    finally:
        nginx.stop()
        for web in webs:
            if web.poll() is None:
                web.terminate()
                web.wait(10)
        hook.shutdown()
        hook.server_close()
        store.close()
