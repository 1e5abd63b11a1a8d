"""What one process of a run brings up for its pages, once, and releases in reverse at the end.

A :class:`Bringup` is the run's side of the lifecycle (:mod:`k8snotes.lifecycle`),
with no test framework in it: the pytest layer makes one per process, asks it
for the reader's machine or the suite's cluster before a page opens, and
closes it when the session ends.

- On the process that leads the run (pytest's controller),
  :meth:`Bringup.hold_shared` registers what any process of the run may start
  and the leader releases once every other process is done: the Docker engine
  (when this run started it), the suite's cluster (when this run made it) and
  the host settings that reader's machines side by side need (through a
  :class:`~k8snotes.lifecycle.HostLedger`).
- In every process, :meth:`Bringup.reader` prepares the reader's machine and
  :meth:`Bringup.suite_cluster` the suite's cluster, each registered on the
  stack before it is made, so that a bring-up cut short is still released.

A bring-up that failed is not tried again: the first error is kept and raised
for every later page (:attr:`Bringup.error`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from k8snotes.cluster.base import ClusterInfo
from k8snotes.lifecycle import HostLedger, Resources

if TYPE_CHECKING:
    from k8snotes.cluster.base import Backend
    from k8snotes.runner.environment import ReaderRun

__all__ = ["Bringup", "BringupError"]


class BringupError(RuntimeError):
    """The reader's machine or the suite's cluster could not be brought up (raised once per page)."""


class Bringup:
    """The run's resources in one process: engine, machine, cluster, host settings.

    Args:
        run_id: The run's id (what it marks as its own: the engine it starts, its clusters).
        backend: Returns the cluster backend the run was asked for (raises ``ValueError``
            for an unknown name); called only when a cluster is needed.
    """

    def __init__(self, run_id: str, backend: Callable[[], Backend]) -> None:
        self.run_id = run_id
        self.backend = backend
        self.resources = Resources("the run")
        """What this process acquired, released in reverse by :meth:`close`."""
        self.host = HostLedger(self.resources)
        """The host settings this process changed, put back when :attr:`resources` unwinds."""
        self.error: str | None = None
        """The first bring-up error, raised for every later page."""
        self.reader_run: ReaderRun | None = None
        self.cluster: ClusterInfo | None = None
        self.capabilities: set[str] = set()
        """What the pages can count on (see :meth:`reader` and :meth:`use_cluster`)."""
        self.env: dict[str, str] = {}
        """What the pages' shells get added to their environment."""

    def hold_shared(self, *, machines: int) -> None:
        """On the run's leader: register what any of its processes may start, released last.

        With ``machines`` > 1 (reader's machines side by side), the host
        settings they need are changed here, before any machine starts, and
        put back when the run ends: IP forwarding (their way out) and the
        inotify limit (several kind clusters at once).
        """
        from k8snotes.cluster.registry import release_cluster
        from k8snotes.runner.environment import release_environment

        def release_suite_cluster() -> None:
            try:
                backend = self.backend()
            except ValueError:
                return
            release_cluster(backend, self.run_id)

        self.resources.acquire(
            "the Docker engine, if this run started it", lambda: release_environment(self.run_id)
        )
        self.resources.acquire("the suite's cluster, if this run made it", release_suite_cluster)
        if machines > 1:
            from k8snotes.runner import machines as side_by_side

            for setting, value in side_by_side.HOST_SETTINGS.items():
                if not self.host.at_least(setting, value):
                    raise BringupError(
                        f"reader's machines side by side need {setting} at {value} or more, "
                        "and it could not be changed here"
                    )

    def reader(self, machine: int = 1) -> ReaderRun:
        """Reader's machine ``machine``, prepared once per process.

        Machine 1 is the host; machine 2 and up are network namespaces with a
        Docker engine each (:mod:`k8snotes.runner.machines`), which this
        process enters for good: a process runs one machine's pages only.
        """
        if self.error:
            raise BringupError(f"the reader's machine could not be prepared: {self.error}")
        if self.reader_run is not None:
            if self.reader_run.machine_index != machine:
                raise BringupError(
                    f"pages of reader's machines {self.reader_run.machine_index} and {machine} "
                    "were sent to one process (the scheduler keeps a machine's pages on one)"
                )
            return self.reader_run
        from k8snotes.runner.environment import ReaderRun

        try:
            other = None
            if machine > 1:
                from k8snotes.runner import machines

                other = machines.Machine(machine)
                self.resources.acquire(f"reader's machine {machine}", other.stop)
                other.start()
                other.enter()
            reader = ReaderRun(self.run_id, other)
            self.resources.acquire("the reader's kind clusters and containers", reader.release)
            self.capabilities, self.env = reader.prepare()
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            raise
        self.reader_run = reader
        return reader

    def suite_cluster(self) -> ClusterInfo:
        """The suite's cluster (namespace mode), brought up once, with what it offers probed."""
        if self.error:
            raise BringupError(f"the cluster could not be brought up: {self.error}")
        if self.cluster is None:
            from k8snotes.cluster.registry import shared_cluster
            from k8snotes.runner.environment import prepare_cluster

            try:
                self.use_cluster(shared_cluster(self.backend(), self.run_id, prepare_cluster))
            except Exception as exc:
                self.error = f"{type(exc).__name__}: {exc}"
                raise
        assert self.cluster is not None
        return self.cluster

    def use_cluster(self, cluster: ClusterInfo) -> None:
        """Pages run on ``cluster`` (the suite's, or one a project's fixture gives): probe it once."""
        if self.cluster is not cluster or not self.capabilities:
            from k8snotes.runner.environment import page_environment

            self.capabilities, self.env = page_environment(cluster)
            self.cluster = cluster

    def close(self) -> list[str]:
        """Release everything, newest first; one line per release that failed."""
        return self.resources.close()
