"""The page's terminal: state between blocks, timeouts, background and terminal commands."""

from __future__ import annotations

import os
import time
from pathlib import Path

from k8snotes.runner.shell import Result, ShellSession, group_members, kill_group, started_at
from k8snotes.runner.tty import run_in_tty


def session(tmp_path: Path) -> ShellSession:
    return ShellSession(tmp_path, dict(os.environ))


def test_variables_functions_and_cwd_carry_over(tmp_path: Path) -> None:
    sh = session(tmp_path)
    assert (
        sh.run("NAME=web; export MODE=x; mkdir -p sub && cd sub; greet() { echo hi $1; }").exit_code
        == 0
    )
    result = sh.run('echo "$NAME $MODE"; pwd; greet you')
    assert result.output == f"web x\n{tmp_path}/sub\nhi you\n"


def test_a_block_stops_at_its_first_failing_command(tmp_path: Path) -> None:
    result = session(tmp_path).run("false\necho not reached")
    assert result.exit_code == 1 and "not reached" not in result.output


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    sh = session(tmp_path)
    marker = tmp_path / "child.pid"
    start = time.monotonic()
    result = sh.run(f"sleep 300 & echo $! > {marker}; sleep 300", timeout=1)
    assert result.timed_out and time.monotonic() - start < 10
    child = int(marker.read_text())
    assert (
        not Path(f"/proc/{child}").exists()
        or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]
    )


def test_background_process_is_stopped_with_its_children(tmp_path: Path) -> None:
    sh = session(tmp_path)
    proc = sh.start_background("python3 -m http.server 0 --bind 127.0.0.1 & sleep 300")
    time.sleep(0.3)
    assert group_members(proc.pid)
    kill_group(proc.pid)
    proc.wait(5)
    assert not group_members(proc.pid)


def test_kill_group_checks_identity_before_it_signals(tmp_path: Path) -> None:
    sh = session(tmp_path)
    proc = sh.start_background("sleep 300")
    time.sleep(0.3)
    started = started_at(proc.pid)
    assert started is not None
    # Told the group began after this process started, kill_group takes it for another
    # process that got a reused number, and leaves it alone.
    kill_group(proc.pid, grace=0.2, started=started + 5)
    assert proc.poll() is None
    kill_group(proc.pid, started=started)
    assert proc.wait(5) == -15


def test_interactive_command_runs_under_a_terminal(tmp_path: Path) -> None:
    sh = session(tmp_path)
    result = run_in_tty(
        sh, '[ -t 0 ] && echo "tty yes"; read -r line; echo "got $line"', "hello\\n", 10
    )
    assert result.exit_code == 0
    assert "tty yes" in result.output and "got hello" in result.output


def _run_with_escaped_child(tmp_path: Path, rest: str, timeout: float) -> tuple[Result, float]:
    """Run a block whose child leaves the process group (``setsid``); kill the child after."""
    marker = tmp_path / "escaped.pid"
    start = time.monotonic()
    try:
        result = session(tmp_path).run(
            f"setsid sleep 300 & echo $! > {marker}; {rest}", timeout=timeout
        )
        return result, time.monotonic() - start
    finally:
        os.kill(int(marker.read_text()), 9)


def test_timeout_holds_when_a_child_leaves_the_group(tmp_path: Path) -> None:
    """A process in a session of its own keeps the output open; the deadline still holds."""
    result, seconds = _run_with_escaped_child(tmp_path, "sleep 300", timeout=1)
    assert result.timed_out and seconds < 15


def test_a_finished_block_returns_although_its_child_keeps_running(tmp_path: Path) -> None:
    result, seconds = _run_with_escaped_child(tmp_path, "echo done", timeout=30)
    assert result.exit_code == 0 and result.output == "done\n"
    assert seconds < 10


def test_aliases_and_shell_options_carry_over(tmp_path: Path) -> None:
    sh = session(tmp_path)
    assert sh.run("alias k='echo kube'; set -o pipefail").exit_code == 0
    assert sh.run("k get pods").output == "kube get pods\n"
    result = sh.run("false | true")
    assert result.exit_code == 1, "pipefail did not carry to the next block"


def test_a_background_block_never_writes_the_state(tmp_path: Path) -> None:
    sh = session(tmp_path)
    sh.run("NAME=before")
    proc = sh.start_background("sleep 0.5")
    sh.run("NAME=after")
    proc.wait(10)
    assert sh.run('echo "$NAME"').output == "after\n"
