"""The run's bring-up without pytest: raised once and kept, host settings put back, released."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from k8snotes.runner.bringup import Bringup, BringupError


def _no_backend() -> object:
    raise ValueError("no backend in this test")


def test_a_failed_bring_up_is_raised_for_every_later_page_and_not_tried_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Through sys.modules: an in-process pytester run before this test may have left a
    # stale module as the package's attribute.
    environment = importlib.import_module("k8snotes.runner.environment")
    tries: list[int] = []

    class BrokenReader:
        def __init__(self, run_id: str, machine: object) -> None:
            tries.append(1)

        def release(self) -> None:
            tries.append(-1)

        def prepare(self) -> tuple[set[str], dict[str, str]]:
            raise RuntimeError("no Docker engine can run here")

    monkeypatch.setattr(environment, "ReaderRun", BrokenReader)
    run = Bringup("t1", _no_backend)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="no Docker engine"):
        run.reader()
    for _ in range(2):
        with pytest.raises(BringupError, match="could not be prepared: RuntimeError: no Docker"):
            run.reader()
    assert tries == [1]
    assert run.close() == [] and tries == [1, -1]  # registered before prepare: released


def test_machines_side_by_side_change_the_host_through_its_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    machines = importlib.import_module("k8snotes.runner.machines")
    forward, inotify = tmp_path / "ip_forward", tmp_path / "max_user_instances"
    forward.write_text("0\n")
    inotify.write_text("128\n")
    monkeypatch.setattr(machines, "HOST_SETTINGS", {forward: 1, inotify: 512})
    run = Bringup("t2", _no_backend)  # type: ignore[arg-type]
    run.hold_shared(machines=2)
    assert (forward.read_text(), inotify.read_text()) == ("1", "512")
    assert run.close() == []
    assert (forward.read_text(), inotify.read_text()) == ("0", "128")


def test_a_host_setting_that_cannot_be_changed_is_a_bring_up_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    machines = importlib.import_module("k8snotes.runner.machines")
    missing = tmp_path / "no-such-sysctl"
    monkeypatch.setattr(machines, "HOST_SETTINGS", {missing: 1})
    run = Bringup("t3", _no_backend)  # type: ignore[arg-type]
    with pytest.raises(BringupError, match="no-such-sysctl at 1 or more"):
        run.hold_shared(machines=2)
    assert run.close() == []
