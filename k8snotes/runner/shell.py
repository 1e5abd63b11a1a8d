"""A reader's terminal: one bash session per page, one process group per command.

Each command runs in a fresh ``bash`` that first restores the session's state
(variables, exported environment, functions, working directory) and saves it
again on exit. Variables and ``cd`` carry from block to block as in a
terminal, while every command has its own process group, so a timeout kills
the command and all it started without losing the session.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil

from k8snotes.outcomes import Result

__all__ = ["Result", "ShellSession", "group_members", "kill_group", "started_at"]

_SAVE_STATE = r"""
__k8snotes_save() {
  local rc=$?
  {
    for __v in $(compgen -v); do
      case " $__K8SNOTES_BASELINE " in *" $__v "*) continue ;; esac
      case "$__v" in __*|BASH*|FUNCNAME|PIPESTATUS|LINENO|RANDOM|SECONDS|SRANDOM|EPOCH*|_) continue ;; esac
      declare -p "$__v" 2>/dev/null
    done
    export -p | grep -vE '^declare -x (OLDPWD|PWD|SHLVL|_)='
    declare -f
    alias -p
    set +o | grep -vE ' (errexit|history|monitor|emacs|vi|interactive-comments)$'
    shopt -p | grep -vE ' (login_shell|restricted_shell)$'
    echo "cd $(printf '%q' "$PWD")"
  } > "$__K8SNOTES_STATE.new" 2>/dev/null && mv "$__K8SNOTES_STATE.new" "$__K8SNOTES_STATE"
  exit $rc
}
trap __k8snotes_save EXIT
"""


class ShellSession:
    """The page's terminal.

    Args:
        workdir: Where the session starts, as the reader's terminal does.
        env: The environment of the session (``KUBECONFIG``, ``HOME``, ``PATH`` ...).
        prelude: Shell code run once at the start (functions, variables).
        meta_dir: Where the session keeps its state and scripts (default
            ``workdir/.k8snotes``); keep it outside ``workdir`` so the reader's
            folder holds only what the page's blocks make.
    """

    def __init__(
        self,
        workdir: Path,
        env: dict[str, str],
        prelude: str = "",
        meta_dir: Path | None = None,
    ) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.env = dict(env)
        self.meta_dir = meta_dir or workdir / ".k8snotes"
        self.meta_dir.mkdir(parents=True, exist_ok=True)
        self.state = self.meta_dir / "state.sh"
        self._count = 0
        baseline = subprocess.run(
            ["bash", "-c", "compgen -v"], timeout=30, capture_output=True, text=True, env=self.env
        ).stdout.split()
        self.env["__K8SNOTES_BASELINE"] = " ".join(baseline)
        self.env["__K8SNOTES_STATE"] = str(self.state)
        self.state.write_text(f"cd {workdir}\n")
        if prelude:
            result = self.run(prelude, timeout=30)
            if result.exit_code != 0:
                raise RuntimeError(f"session prelude failed: {result.output}")

    def script(self, command: str, strict: bool = True, save: bool = True) -> Path:
        """Write the file that restores the state and runs ``command``.

        ``save``: write the state back on exit (variables, functions, aliases,
        shell options, ``cd``). Background commands never do: one that ends
        later would overwrite what the blocks after it set.
        """
        self._count += 1
        path = self.meta_dir / f"cmd-{self._count:03d}.sh"
        errexit = "set -e\n" if strict else ""
        saver = _SAVE_STATE if save else ""
        path.write_text(
            f"shopt -s expand_aliases\nsource {self.state}\n{saver}\n{errexit}{command}\n"
        )
        return path

    def run(self, command: str, timeout: float = 60, stdin: str | None = None) -> Result:
        """Run ``command`` as the next thing typed in the terminal.

        ``set -e`` is on, so a block stops at its first failing command, as a
        reader would stop reading. On timeout the whole process group is killed.
        """
        path = self.script(command)
        out_path = path.with_suffix(".out")
        start = time.monotonic()
        # Output goes to a file, not a pipe: a process the command leaves running
        # (`cmd &`, `setsid`, a daemon) keeps a pipe open and would hold the runner
        # past any deadline; a file it may keep writing to holds nothing up.
        with open(out_path, "wb") as out:
            proc = subprocess.Popen(
                ["bash", str(path)],
                cwd=self.workdir,
                env=self.env,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if stdin is not None and proc.stdin is not None:
            try:
                proc.stdin.write(stdin.encode())
                proc.stdin.close()
            except BrokenPipeError:
                pass
        started = started_at(proc.pid)
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            kill_group(proc.pid, started=started)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        except BaseException:  # Ctrl-C, SIGTERM: the command must not outlive the run
            kill_group(proc.pid, started=started)
            raise
        output = out_path.read_bytes().decode(errors="replace")
        code = -9 if timed_out else proc.returncode
        return Result(command, code, output, time.monotonic() - start, timed_out=timed_out)

    def start_background(self, command: str) -> subprocess.Popen[bytes]:
        """Start ``command`` in its own process group, output to a log file."""
        path = self.script(command, strict=False, save=False)
        log = open(path.with_suffix(".log"), "wb")
        return subprocess.Popen(
            ["bash", str(path)],
            cwd=self.workdir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def started_at(pid: int) -> float | None:
    """When process ``pid`` started (psutil's ``create_time``), or ``None`` when it is gone.

    Read it right after starting a process, and give it to :func:`kill_group`.
    """
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def group_members(pgid: int, started: float | None = None) -> list[psutil.Process]:
    """The live processes of process group ``pgid`` that are ours.

    Ours: in the group, and started no earlier than ``started``, the group
    leader's start time (a process that took a reused number later is not in
    a group we made, and one that was there before is not ours either).
    """
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) != pgid or proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if started is not None and proc.create_time() < started - 0.01:
                continue
        except (psutil.Error, ProcessLookupError):
            continue
        members.append(proc)
    return members


def kill_group(pid: int, grace: float = 3.0, started: float | None = None) -> None:
    """Stop the process group led by ``pid``: SIGTERM, then SIGKILL after ``grace`` seconds.

    Identity is checked before every signal: only :func:`group_members` are
    signalled, each through psutil, which refuses a process whose number was
    given to another since it was listed. ``started`` is the leader's start
    time (:func:`started_at`); without it, it is read now if the leader lives.
    """
    if started is None:
        started = started_at(pid)
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        members = group_members(pid, started)
        if not members:
            return
        for proc in members:
            try:
                proc.send_signal(sig)
            except psutil.Error:
                continue
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and group_members(pid, started):
            time.sleep(0.05)
