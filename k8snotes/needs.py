"""The suite's logic over pages' front matter ``needs``, written once, with no pytest in it.

Pages are named as ``needs`` writes them (relative to their docs folder).
:class:`Needs` answers every question the runner asks of that graph: the
order pages run in, what a page needs (all the way down), what depends on it,
the groups of linked pages, the set-up pages, and how pages spread over
reader's machines or CI shards (:meth:`Needs.spread`, one function for both).

```python
from k8snotes.needs import Needs

needs = Needs({"setup": [], "a": ["setup"], "b": ["setup"], "t1": [], "t2": ["t1"]})
assert needs.order() == ["setup", "a", "b", "t1", "t2"]
assert needs.closure(["t2"]) == {"t1", "t2"}
assert needs.dependents("setup") == {"a", "b"}
assert needs.setup_pages() == {"setup"}
```
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path

__all__ = ["Needs", "read_durations", "shard_index"]


class Needs:
    """The ``needs`` graph of a set of pages.

    Args:
        needs: Page name -> the pages it needs, in front matter order.
    """

    def __init__(self, needs: Mapping[str, Collection[str]]) -> None:
        self.needs: dict[str, list[str]] = {page: list(wanted) for page, wanted in needs.items()}

    def __contains__(self, page: str) -> bool:
        return page in self.needs

    def order(self) -> list[str]:
        """Pages in the order they run: each after the pages it needs, its dependents right after it.

        Depth first from the pages that need nothing (in name order), so a chain
        of tasks runs unbroken, and a page that makes state for others (the
        cluster preparation) is followed by all of them before anything else.

        ```python
        from k8snotes.needs import Needs

        needs = Needs({"a.md": [], "b.md": ["a.md"], "c.md": [], "d.md": ["b.md"]})
        assert needs.order() == ["a.md", "b.md", "d.md", "c.md"]
        ```
        """
        done: list[str] = []
        seen: set[str] = set()

        def visit(page: str) -> None:
            seen.add(page)
            done.append(page)
            for child in sorted(p for p, n in self.needs.items() if page in n and p not in seen):
                if all(n in seen for n in self.needs[child]):
                    visit(child)

        for page in sorted(self.needs):
            if page not in seen and all(n not in self.needs for n in self.needs[page]):
                visit(page)
        for page in sorted(self.needs):  # needs naming an unknown page, or a cycle: still run
            if page not in seen:
                visit(page)
        return done

    def closure(self, pages: Iterable[str]) -> set[str]:
        """``pages`` and every page they need, all the way down (known pages or not)."""
        out: set[str] = set()
        todo = list(pages)
        while todo:
            page = todo.pop()
            if page not in out:
                out.add(page)
                todo += self.needs.get(page, [])
        return out

    def dependents(self, page: str) -> set[str]:
        """Every page that needs ``page``, directly or through others."""
        out: set[str] = set()
        todo = [page]
        while todo:
            current = todo.pop()
            for other, wanted in self.needs.items():
                if current in wanted and other not in out:
                    out.add(other)
                    todo.append(other)
        return out

    def groups(self, leave_out: Collection[str] = ()) -> list[list[str]]:
        """The pages linked by ``needs`` (either way), each group sorted; ``leave_out`` cut away.

        ```python
        from k8snotes.needs import Needs

        needs = Needs({"a": [], "b": ["a"], "c": [], "d": ["b"]})
        assert needs.groups() == [["a", "b", "d"], ["c"]]
        assert needs.groups(leave_out={"b"}) == [["a"], ["c"], ["d"]]
        ```
        """
        group = {page: page for page in self.needs if page not in leave_out}

        def find(page: str) -> str:
            while group[page] != page:
                page = group[page]
            return page

        for page, wanted in self.needs.items():
            for need in wanted:
                if page in group and need in group:
                    group[find(page)] = find(need)
        found: dict[str, list[str]] = {}
        for page in sorted(group):
            found.setdefault(find(page), []).append(page)
        return sorted(found.values())

    def setup_pages(self) -> set[str]:
        """Pages that two or more pages need: each runs wherever a page needing it runs."""
        needed_by: dict[str, int] = {}
        for wanted in self.needs.values():
            for need in set(wanted):
                needed_by[need] = needed_by.get(need, 0) + 1
        return {page for page in self.needs if needed_by.get(page, 0) >= 2}

    def spread(
        self, weights: Mapping[str, float], count: int, first_load: float = 0.0
    ) -> dict[str, list[int]]:
        """Where each page runs, on ``count`` reader's machines or CI shards (1 to ``count``).

        A set-up page (:meth:`setup_pages`) runs on every machine that runs a
        page needing it. The other pages form groups (a chain of tasks, each
        needing the one before, is one group); the groups go, heaviest first,
        to the machine whose load grows least, counting the set-up pages it
        would have to run first. ``first_load`` is work machine 1 has besides
        the pages (the Docker tests it runs). A pure function of its
        arguments: every CI job computes the same split.

        ```python
        from k8snotes.needs import Needs

        needs = Needs({"setup": [], "a": ["setup"], "b": ["setup"], "c": ["setup"],
                       "t1": [], "t2": ["t1"], "t3": ["t2"]})
        weights = {"setup": 2, "a": 9, "b": 8, "c": 7, "t1": 4, "t2": 4, "t3": 4}
        plan = needs.spread(weights, 2)
        assert plan["t1"] == plan["t2"] == plan["t3"] == [1]  # a chain stays together
        assert plan["a"] == plan["b"] == [2] and plan["c"] == [1]
        assert plan["setup"] == [1, 2]  # made on both machines: a, b and c need it
        assert needs.spread(weights, 1) == {page: [1] for page in needs.needs}
        ```
        """
        if count <= 1:
            return {page: [1] for page in self.needs}
        setup = self.setup_pages()
        grouped = self.groups(leave_out=setup)
        in_groups = {page for pages in grouped for page in pages}

        def setups_of(pages: list[str]) -> set[str]:
            out: set[str] = set()
            todo = [n for p in pages for n in self.needs.get(p, ())]
            while todo:
                need = todo.pop()
                if need in setup and need not in out:
                    out.add(need)
                    todo += list(self.needs.get(need, ()))
                elif need in in_groups:
                    todo += list(self.needs.get(need, ()))
            return out

        load = [first_load] + [0.0] * (count - 1)
        has: list[set[str]] = [set() for _ in range(count)]
        plan: dict[str, list[int]] = {}
        ordered = sorted(grouped, key=lambda ps: (-sum(weights.get(p, 1.0) for p in ps), ps))
        for pages in ordered:
            own = sum(weights.get(p, 1.0) for p in pages)
            wanted = setups_of(pages)

            def cost(m: int, own: float = own, wanted: set[str] = wanted) -> float:
                return load[m] + own + sum(weights.get(s, 1.0) for s in wanted - has[m])

            target = min(range(count), key=lambda m: (cost(m), m))
            load[target] = cost(target)
            has[target] |= wanted
            for page in pages:
                plan[page] = [target + 1]
        for page in sorted(setup):
            plan[page] = [m + 1 for m in range(count) if page in has[m]] or [1]
        return plan


def shard_index(shard: str) -> tuple[int, int]:
    """``"K/N"`` -> ``(K, N)``; raises :class:`ValueError` unless 1 <= K <= N."""
    k, sep, n = shard.partition("/")
    if not (sep and k.isdigit() and n.isdigit()) or not 1 <= int(k) <= int(n):
        raise ValueError(f"a shard is K/N with 1 <= K <= N, not {shard!r}")
    return int(k), int(n)


def read_durations(path: Path | None) -> dict[str, float]:
    """Recorded seconds per page and per test file, from a durations file; ``{}`` if none."""
    if path is None or not path.is_file():
        return {}
    data = json.loads(path.read_text())
    return {str(name): float(seconds) for name, seconds in data.items()}
