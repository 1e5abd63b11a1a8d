"""Matching a page's shown output against real output."""

from __future__ import annotations

import pytest

from k8snotes.runner.output import normalize, output_diff, output_matches


@pytest.mark.parametrize(
    ("shown", "real"),
    [
        (
            "web-6cb5c88748-dr7qz   1/1   Running   0   12s",
            "web-5d8f9c7b6d-x2k9p 1/1 Running 0 3m4s",
        ),
        ("web-6cb5c88748   3   3   3   5m", "web-7f9d8b6c5   3 3 3 20s"),
        ("pod/web   10.244.1.3   kind-worker", "pod/web 10.244.2.17 kind-worker"),
        ("Forwarding from 127.0.0.1:38211 -> 8080", "Forwarding from 127.0.0.1:40001 -> 8080"),
        ("sha256:" + "a" * 64, "sha256:" + "b" * 64),
        ("2026-01-01T10:00:00Z hello", "2026-11-25T02:31:07.123Z hello"),
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
    ],
)
def test_real_differences_fail(shown: str, real: str) -> None:
    assert not output_matches(shown, real)


def test_ellipsis_line_matches_any_lines() -> None:
    assert output_matches("first\n...\nlast", "first\nx\ny\nlast")
    assert output_matches("first\n...\nlast", "first\nlast")
    assert not output_matches("first\n...\nlast", "first\nx")


def test_normalize_keeps_words() -> None:
    assert normalize("kube-proxy   1/1 Running") == "kube-proxy 1/1 Running"
    assert normalize("sample-app") == "sample-app"


def test_diff_numbers_page_lines() -> None:
    diff = output_diff("a\nb", "a\nc", first_line=40)
    assert "page line 41: b" in diff
    assert "-b" in diff and "+c" in diff
