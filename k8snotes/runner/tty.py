"""Interactive commands (``kubectl exec -it``, ``docker run -it``) under a real pseudo-terminal."""

from __future__ import annotations

import time

import pexpect

from k8snotes.outcomes import Result
from k8snotes.runner.shell import ShellSession, kill_group, started_at


def run_in_tty(shell: ShellSession, command: str, stdin: str, timeout: float) -> Result:
    """Run ``command`` under a pseudo-terminal, typing ``stdin`` into it.

    ``\\n`` in ``stdin`` is Enter. The output is what the terminal showed, with
    CRLF turned into LF; echoed input is part of it, as on a reader's screen.
    """
    path = shell.script(command)
    start = time.monotonic()
    child = pexpect.spawn(
        "bash",
        [str(path)],
        cwd=str(shell.workdir),
        env=shell.env,
        encoding="utf-8",
        timeout=timeout,
        dimensions=(50, 200),
    )
    started = started_at(child.pid)
    # Give the program a moment to put the terminal in the mode it wants.
    time.sleep(1.0)
    child.send(stdin.encode().decode("unicode_escape"))
    timed_out = False
    try:
        child.expect(pexpect.EOF)
    except pexpect.TIMEOUT:
        timed_out = True
        kill_group(child.pid, started=started)
    output = (child.before or "").replace("\r\n", "\n")
    child.close()
    code = child.exitstatus if child.exitstatus is not None else -(child.signalstatus or 9)
    return Result(command, code, output, time.monotonic() - start, timed_out)
