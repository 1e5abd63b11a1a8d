"""The run's lifecycle: resources released in reverse, host settings put back, SIGTERM as Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from k8snotes.lifecycle import HostLedger, ReleaseError, Resources


def test_resources_unwind_in_reverse_and_every_release_runs() -> None:
    log: list[str] = []

    def broken() -> None:
        log.append("broken")
        raise OSError("gone already")

    stack = Resources("the run")
    stack.acquire("engine", lambda: log.append("engine"))
    stack.acquire("cluster", broken)
    stack.acquire("namespace", lambda: log.append("namespace"))
    assert stack.held() == ["engine", "cluster", "namespace"]
    problems = stack.close()
    assert log == ["namespace", "broken", "engine"]
    assert problems == ["the run: releasing cluster: OSError: gone already"]
    assert stack.held() == [] and stack.close() == []


def test_a_failed_release_is_an_error_of_a_with_block_that_went_well() -> None:
    with pytest.raises(ReleaseError, match="releasing x: RuntimeError: no"):
        with Resources("page") as stack:
            stack.acquire("x", lambda: (_ for _ in ()).throw(RuntimeError("no")))


def test_the_host_ledger_puts_back_what_it_changed(tmp_path: Path) -> None:
    setting = tmp_path / "ip_forward"
    setting.write_text("0\n")
    stack = Resources("the run")
    ledger = HostLedger(stack)
    assert ledger.set(setting, "1") and setting.read_text() == "1"
    assert ledger.set(setting, "2")  # a second change keeps the first recorded value
    assert not ledger.set(tmp_path / "missing", "1")
    assert stack.close() == []
    assert setting.read_text() == "0"


def test_the_host_ledger_raises_a_limit_only_when_it_is_lower(tmp_path: Path) -> None:
    low, high = tmp_path / "low", tmp_path / "high"
    low.write_text("128\n")
    high.write_text("8192\n")
    stack = Resources("the run")
    ledger = HostLedger(stack)
    assert ledger.at_least(low, 512) and ledger.at_least(high, 512)
    assert (low.read_text(), high.read_text()) == ("512", "8192\n")
    assert stack.held() == [f"{low} = 512 (was 128)"]
    assert stack.close() == [] and low.read_text() == "128"


UNWINDING = """
import sys, time
from k8snotes.lifecycle import terminate_gracefully
terminate_gracefully()
try:
    print("ready", flush=True)
    time.sleep(60)
except KeyboardInterrupt as exc:
    print(f"interrupted: {exc}", flush=True)
    time.sleep(1.5)  # a clean-up that a second signal must not cut short
    print("cleaned up", flush=True)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_unwind_and_a_second_signal_does_not_cut_the_clean_up(
    signum: signal.Signals,
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(UNWINDING)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signum)
    time.sleep(0.5)
    proc.send_signal(signum)
    out, _ = proc.communicate(timeout=30)
    assert out.splitlines() == [f"interrupted: {signum.name} received", "cleaned up"]
    assert proc.returncode == 0
