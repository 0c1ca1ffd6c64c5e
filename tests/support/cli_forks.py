"""The `hallsense` CLI run as a process of its own, forked from one that imported it once.

A fresh interpreter costs each command half a second or more before it does anything
(importing Python, click and the command's packages); the table of errors runs about a
hundred commands. The server here imports the CLI and every group's commands once, then
forks a child per command: the child is a process of its own, with the case's
environment, working directory, stdin from /dev/null and its stdout and stderr in files,
and it ends with the exit status `python -m hallsense` would. The server is one thread,
so forking it is safe.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

SERVER = r"""
import json, os, signal, sys, time, traceback
from hallsense.cli import cli
for name in list(cli.commands):
    cli.commands[name]  # each group's modules, imported here once
sys.stdout.flush()
for line in sys.stdin:
    ask = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.chdir(ask["cwd"])
            os.environ.clear()
            os.environ.update(ask["env"])
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            os.dup2(os.open(ask["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 1)
            os.dup2(os.open(ask["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 2)
            sys.stdin = open(0, closefd=False)
            sys.argv = ["hallsense", *ask["args"]]
            cli(args=ask["args"], prog_name="hallsense")
            code = 0
        except SystemExit as stop:
            if stop.code is None:
                code = 0
            elif isinstance(stop.code, int):
                code = stop.code
            else:
                print(stop.code, file=sys.stderr)
                code = 1
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    deadline = time.monotonic() + ask["timeout"]
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            done, status = os.waitpid(pid, 0)
            break
        time.sleep(0.005)
    print(json.dumps({"code": os.waitstatus_to_exitcode(status)}), flush=True)
"""


@dataclass(frozen=True)
class Ran:
    """What a command left: its exit status and what it wrote."""

    returncode: int
    stdout: str
    stderr: str


class CliForks:
    """Runs `hallsense` commands, each in a child forked from one server process."""

    def __init__(self) -> None:
        self._outputs = Path(tempfile.mkdtemp(prefix="hallsense-cli-"))
        self._server = subprocess.Popen(
            [sys.executable, "-c", SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._count = 0

    def run(
        self, args: Sequence[str], *, env: Mapping[str, str], cwd: Path, timeout: float = 60
    ) -> Ran:
        """``hallsense ARGS`` with exactly ``env``, in ``cwd``; killed after ``timeout``."""
        assert self._server.stdin is not None
        assert self._server.stdout is not None
        self._count += 1
        out = self._outputs / f"{self._count}.out"
        err = self._outputs / f"{self._count}.err"
        ask = {
            "args": list(args), "env": dict(env), "cwd": str(cwd), "out": str(out),
            "err": str(err), "timeout": timeout,
        }  # fmt: skip
        self._server.stdin.write(json.dumps(ask) + "\n")
        self._server.stdin.flush()
        answer = self._server.stdout.readline()
        if not answer:
            raise RuntimeError("the CLI fork server stopped")
        code = int(json.loads(answer)["code"])
        return Ran(code, out.read_text(errors="replace"), err.read_text(errors="replace"))

    def close(self) -> None:
        if self._server.stdin is not None:
            self._server.stdin.close()
        self._server.wait(10)
        if self._server.stdout is not None:
            self._server.stdout.close()
        for path in self._outputs.iterdir():
            path.unlink()
        self._outputs.rmdir()
