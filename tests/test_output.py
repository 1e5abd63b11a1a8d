"""Matching a page's shown output against real output."""

from __future__ import annotations

from pathlib import Path

import pytest

from k8snotes.check.output import (
    PLACEHOLDERS,
    line_pattern,
    normalize,
    output_diff,
    output_matches,
)

# What each placeholder must match (every value of its kind) and must not match.
CASES: dict[str, tuple[list[str], list[str]]] = {
    "TIME": (
        [
            "2026-01-01T10:00:00Z",
            "2026-11-25T02:31:07.123456Z",
            "2026-11-25 02:31:07 +0000",
            "2026-11-25T02:31:07+01:00",
            "Tue, 25 Nov 2026 02:31:07 +0000",
            "Fri Nov 27 16:33:26 2026",
            "Mon Dec  1 09:05:00 2026",
        ],
        ["2026-11-25", "02:31:07", "12s", "Tue, 25 Nov 2026", "v1.37.2", "Fri Nov 27 16:33:26"],
    ),
    "DIGEST": (
        ["a" * 64, "0123456789abcdef" * 4],
        ["a" * 63, "a" * 65, "A" * 64, "g" * 64, "sha256:" + "a" * 64],
    ),
    "ID": (
        ["f979affe0a6b", "3a8a18356b70", "a0c6909bcb536", "cbcb4c43f4fac"],
        ["f979affe0a6", "a" * 14, "F979AFFE0A6B", "a" * 64, "web-6cb5c88748"],
    ),
    "IP": (
        ["10.244.1.3", "127.0.0.1", "0.0.0.0", "10.244.0.0/16", "172.17.0.1"],
        ["10.244.1", "10.244.1.3.4", "v1.37.2", "localhost", "10.244.1.3:8080"],
    ),
    "HASH": (
        ["6cb5c88748", "79fb97cb5f", "68fcd4c4b", "5d8f9c7b6d"],
        ["6cb5c887481", "abcdefgh", "0123456789", "6CB5C88748", "web", ""],
    ),
    "SUFFIX": (
        ["dr7qz", "x2k9p", "2cvxg", "hnvp7"],
        ["dr7q", "dr7qzz", "abcde", "d0r7q", "DR7QZ", "web"],
    ),
    "AGE": (
        [
            "0s",
            "5s",
            "45s",
            "119s",
            "3m4s",
            "9m59s",
            "1m",
            "10m",
            "179m",
            "5h",
            "3h20m",
            "47h",
            "2d3h",
            "8d",
            "729d",
            "2y",
            "2y3d",
            "5 seconds",
            "1 second",
            "About a minute",
            "About an hour",
            "Less than a second",
            "3 weeks",
        ],
        [
            "250m",
            "1500m",
            "180m",
            "120s",
            "3m60s",
            "0m",
            "64Mi",
            "12%",
            "5",
            "10 apples",
            "s",
            "5S",
        ],
    ),
    "PORT": (
        ["8080", "80", "38211", "65535"],
        ["", "8080/TCP", "808080", "http", "-1"],
    ),
    "CPU": (
        ["250m", "1500m", "10m", "1", "2", "0.5"],
        ["64Mi", "5s", "3m4s", "12%", "m", "250M", "1.2.3", ""],
    ),
    "MEM": (
        ["64Mi", "900Mi", "1Gi", "131072Ki", "500M", "1k", "134217728", "1.5Gi"],
        ["250m", "126MB", "64MiB", "5s", "Mi", "64mi", ""],
    ),
    "SIZE": (
        ["126MB", "48.2MB", "74.1MB", "1.2kB", "0B", "12.5MiB", "7.6GiB", "1GB"],
        ["64Mi", "250m", "126", "MB", "1.2.3MB", "126 MB", "5s", ""],
    ),
    "NUM": (
        ["0", "42", "-1", "3.14", "137"],
        ["12s", "1.2.3", "250m", "", "1,000", "-", "4/6"],
    ),
    "NAME": (
        ["kind-worker2", "kind-control-plane", "hopeful_morse", "a", "node.example.com"],
        ["<none>", "Web", "-web", "web-", "two words", "", "web/x"],
    ),
}


def test_every_placeholder_has_cases() -> None:
    assert set(CASES) == set(PLACEHOLDERS)


@pytest.mark.parametrize("name", list(CASES))
def test_placeholder(name: str) -> None:
    placeholder = PLACEHOLDERS[name]
    good, bad = CASES[name]
    assert good and bad, f"{name} needs values it matches and values it must not match"
    assert [v for v in good if not placeholder.matches(v)] == [], f"{name} must match these"
    assert [v for v in bad if placeholder.matches(v)] == [], f"{name} must not match these"
    # Written in an expected line, it matches the same values there.
    pattern = line_pattern(f"x {placeholder.token} y")
    assert all(pattern.fullmatch(f"x {v} y") for v in good)
    assert not any(pattern.fullmatch(f"x {v} y") for v in bad)


# Values the matcher finds by itself in a page's text, and what it leaves to the author.
@pytest.mark.parametrize(
    ("shown", "normal"),
    [
        ("web-6cb5c88748-dr7qz   1/1", "web-<HASH>-<SUFFIX> 1/1"),
        ("web-6cb5c88748   3   3   3   5s", "web-<HASH> 3 3 3 <AGE>"),
        ("app=web,pod-template-hash=6b96759968", "app=web,pod-template-hash=<HASH>"),
        ("web-2cvxg   IPv4   8080   10.244.1.83,10.244.1.84", "web-<SUFFIX> IPv4 8080 <IP>,<IP>"),
        ("pod/web-<HASH>-dr7qz condition met", "pod/web-<HASH>-<SUFFIX> condition met"),
        ("pod/web-6cb5c88748-<SUFFIX> condition met", "pod/web-<HASH>-<SUFFIX> condition met"),
        ("sample-app   1.0.0   a0c6909bcb536   126MB", "sample-app 1.0.0 <ID> 126MB"),
        ("hostname: f979affe0a6b", "hostname: <ID>"),
        ("sha256:" + "a" * 64, "sha256:<DIGEST>"),
        ("2026-11-25T02:31:07Z hello", "<TIME> hello"),
        ("Start Time: Tue, 25 Nov 2026 02:31:07 +0000", "Start Time: <TIME>"),
        ("1  Fri Nov 27 16:33:26 2026  superseded  web-0.1.0", "1 <TIME> superseded web-0.1.0"),
        ("Forwarding from 127.0.0.1:38211 -> 8080", "Forwarding from <IP>:<PORT> -> 8080"),
        ("web   1/1   Running   1 (12s ago)   3m4s", "web 1/1 Running 1 (<AGE> ago) <AGE>"),
        ("Normal Pulled 5s kubelet (x2 over 7m59s)", "Normal Pulled <AGE> kubelet (x2 over <AGE>)"),
        ("Up 5 seconds", "Up <AGE>"),
        ("Created About a minute ago", "Created <AGE> ago"),
        # Not found by itself: CPU and memory figures, minutes alone, settings, fixed ports.
        ("web   250m   64Mi", "web 250m 64Mi"),
        ("web   10m   5Mi", "web 10m 5Mi"),
        ("cpu 100m (5%) 0 (0%)", "cpu 100m (5%) 0 (0%)"),
        ("delay=0s timeout=1s period=10s", "delay=0s timeout=1s period=10s"),
        ("Liveness: http-get http://:8080/healthy", "Liveness: http-get http://:8080/healthy"),
        ("localhost:28080->8080/tcp", "localhost:28080->8080/tcp"),
        ("memory=209715200 memory-swap=1073741824", "memory=209715200 memory-swap=1073741824"),
        ("123456789012 abcdefabcdef", "123456789012 abcdefabcdef"),
        ("app 122MB", "app 122MB"),
        ("kube-proxy   1/1 Running", "kube-proxy 1/1 Running"),
        ("sample-app", "sample-app"),
        ("Python 3.11.2", "Python 3.11.2"),
        ("Client Version: v1.37.1", "Client Version: v1.37.1"),
        ("kind-control-plane Ready control-plane <AGE> v1.37.2", None),
    ],
)
def test_normalize(shown: str, normal: str | None) -> None:
    assert normalize(shown) == (normal if normal is not None else shown)


@pytest.mark.parametrize(
    ("shown", "real"),
    [
        (
            "web-6cb5c88748-dr7qz   1/1   Running   0   12s",
            "web-5d8f9c7b6d-x2k9p 1/1 Running 0 3m4s",
        ),
        ("web-6cb5c88748   3   3   3   5m2s", "web-7f9d8b6c5   3 3 3 20s"),
        ("web-6cb5c88748   3   3   3   <AGE>", "web-7f9d8b6c5   3 3 3 10m"),
        ("pod/web   10.244.1.3   kind-worker", "pod/web 10.244.2.17 kind-worker"),
        ("pod/web   10.244.1.3   <NAME>", "pod/web 10.244.2.17 kind-worker2"),
        ("Forwarding from 127.0.0.1:38211 -> 8080", "Forwarding from 127.0.0.1:40001 -> 8080"),
        ("sha256:" + "a" * 64, "sha256:" + "b" * 64),
        ("2026-01-01T10:00:00Z hello", "2026-11-25T02:31:07.123Z hello"),
        ("web   1/1   Running   1 (12s ago)   3m4s", "web 1/1 Running 1 (2m1s ago) 2d3h"),
        ("a0c6909bcb536   126MB", "cbcb4c43f4fac 126MB"),
    ],
)
def test_varying_parts_match(shown: str, real: str) -> None:
    assert output_matches(shown, real)


@pytest.mark.parametrize(
    ("shown", "real"),
    [
        ("web 1/1 Running", "web 0/1 Pending"),
        ("deployment.apps/web created", "deployment.apps/web configured"),
        ("a\nb", "a"),
        # A CPU figure is not an age: kubectl top figures are checked unless written <CPU>.
        ("web   250m   64Mi", "web 900m 64Mi"),
        ("web   <AGE>   64Mi", "web 250m 64Mi"),
        ("web   <CPU>   <MEM>", "web 5s 64Mi"),
        ("web   <CPU>   <MEM>", "web 250m 126MB"),
        # Minutes alone are not found by themselves: 10m is also 10 millicores.
        ("web-6cb5c88748   3   3   3   10m", "web-6cb5c88748 3 3 3 20s"),
        # Settings and fixed ports are checked.
        ("delay=0s timeout=1s period=10s", "delay=0s timeout=1s period=5s"),
        ("Liveness: http-get http://:8080/healthy", "Liveness: http-get http://:9090/healthy"),
        # Sizes are checked unless written <SIZE>.
        ("sample-app   1.0.0   a0c6909bcb536   126MB", "sample-app 1.0.0 cbcb4c43f4fac 127MB"),
        # A placeholder stands for its kind only.
        ("hostname: web-6cb5c88748-dr7qz", "hostname: f979affe0a6b"),
        ("sample-app   <ID>", "sample-app " + "a" * 64),
        ("<NUM>%", "12s%"),
    ],
)
def test_real_differences_fail(shown: str, real: str) -> None:
    assert not output_matches(shown, real)


KUBECTL_TOP_NODES = """
NAME                 CPU(cores)   CPU(%)   MEMORY(bytes)   MEMORY(%)
kind-control-plane   <CPU>        <NUM>%   <MEM>           <NUM>%
<NAME>               <CPU>        <NUM>%   <MEM>           <NUM>%
"""

CRICTL_IMAGES = """
docker.io/library/sample-app               1.0.0                <ID>       <SIZE>
docker.io/library/sample-app               2.0.0                <ID>       <SIZE>
"""

GET_PODS = """
NAME                          READY   STATUS    RESTARTS      AGE
sample-app-6b96759968-9rlww   1/1     Running   0             64s
sample-app-6b96759968-bgfht   1/1     Running   1 (12s ago)   62s
sample-app-6fb8c4965d-8wfk4   0/1     Running   0             61s
"""


def test_whole_outputs_with_written_placeholders() -> None:
    assert output_matches(
        KUBECTL_TOP_NODES,
        "NAME CPU(cores) CPU(%) MEMORY(bytes) MEMORY(%)\n"
        "kind-control-plane   231m   5%   912Mi   11%\n"
        "kind-worker   1500m   37%   1Gi   12%\n",
    )
    assert not output_matches(
        KUBECTL_TOP_NODES,
        "NAME CPU(cores) CPU(%) MEMORY(bytes) MEMORY(%)\n"
        "kind-control-plane   231m   5%   912Mi   11%\n",
    )
    assert not output_matches(
        KUBECTL_TOP_NODES,
        "NAME CPU(cores) CPU(%) MEMORY(bytes) MEMORY(%)\n"
        "kind-control-plane   <unknown>   <unknown>   912Mi   11%\n"
        "kind-worker   1500m   37%   1Gi   12%\n",
    )
    real = (
        "docker.io/library/sample-app   1.0.0   a0c6909bcb536   126MB\n"
        "docker.io/library/sample-app   2.0.0   cbcb4c43f4fac   48.2MB\n"
    )
    assert output_matches(CRICTL_IMAGES, real)
    assert not output_matches(CRICTL_IMAGES, real.replace("2.0.0", "3.0.0"))


def test_whole_output_found_by_itself() -> None:
    real = (
        "NAME   READY   STATUS    RESTARTS   AGE\n"
        "sample-app-78fcb5c76c-x2k9p   1/1   Running   0   2m1s\n"
        "sample-app-78fcb5c76c-q7t4n   1/1   Running   1 (3s ago)   2m\n"
        "sample-app-5d8f9c7b6d-4w2zn   0/1   Running   0   10m\n"
    )
    assert output_matches(GET_PODS, real)
    assert not output_matches(GET_PODS, real.replace("0/1", "1/1"))
    assert [normalize(line) for line in GET_PODS.strip().splitlines()][1:] == [
        "sample-app-<HASH>-<SUFFIX> 1/1 Running 0 <AGE>",
        "sample-app-<HASH>-<SUFFIX> 1/1 Running 1 (<AGE> ago) <AGE>",
        "sample-app-<HASH>-<SUFFIX> 0/1 Running 0 <AGE>",
    ]


def test_ellipsis_line_matches_any_lines() -> None:
    assert output_matches("first\n...\nlast", "first\nx\ny\nlast")
    assert output_matches("first\n...\nlast", "first\nlast")
    assert not output_matches("first\n...\nlast", "first\nx")


def test_literal_text_is_not_a_pattern() -> None:
    assert output_matches("a.b (c)*", "a.b (c)*")
    assert not output_matches("a.b", "axb")
    assert output_matches("NAME   <none>   <unknown>", "NAME <none> <unknown>")


def test_diff_numbers_page_lines() -> None:
    diff = output_diff("a\nb", "a\nc", first_line=40)
    assert "page line 41: b" in diff
    assert "-b" in diff and "+c" in diff


def test_diff_shows_how_a_line_is_read() -> None:
    diff = output_diff("web   3   10m\nweb-6cb5c88748   3   5s", "web 3 20s\nweb-7f9d8b6c5 3 7s", 1)
    assert "page line 1: web   3   10m\n  page line 2" in diff
    assert "read as: web-<HASH> 3 <AGE>" in diff


def test_apply_updates_rewrites_bottom_up_and_leaves_a_changed_page_alone(tmp_path: Path) -> None:
    from k8snotes.check.update import OutputUpdate, apply_updates

    page = tmp_path / "p.md"
    page.write_text("```console\n$ a\none\n$ b\ntwo\nthree\n```\n")
    done = apply_updates(
        [
            OutputUpdate(page, 3, "one", "ONE\nONE-AND-A-HALF"),
            OutputUpdate(page, 5, "two\nthree", "TWO"),
            OutputUpdate(page, 2, "not what the page shows", "x"),
        ]
    )
    assert page.read_text() == "```console\n$ a\nONE\nONE-AND-A-HALF\n$ b\nTWO\n```\n"
    assert done == [
        f"{page}:5: output updated (2 -> 1 lines)",
        f"{page}:3: output updated (1 -> 2 lines)",
        f"{page}:2: not updated: the page no longer shows that output there",
    ]


def test_client_log_lines_are_not_output() -> None:
    """client-go's klog lines on stderr (kubectl wait's stray watch warning) are not compared."""
    noisy = (
        'I1127 14:07:59.730071   27085 reflector.go:664] "Warning: watch ended with error" '
        'reflector="k8s.io/client-go/tools/watch/informerwatcher.go:162"\n'
        "pod/web condition met\n"
    )
    assert output_matches("pod/web condition met", noisy)
    assert not output_matches(
        "pod/web condition met", "Warning: something else\npod/web condition met"
    )
