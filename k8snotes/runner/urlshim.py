"""What this machine changes in a page's ``kubectl ... -f https://...``, printed and reported.

Nothing but the package indexes answers here, so a manifest a reader's kubectl
fetches from a release URL (the Gateway API CRDs, metrics-server's
``components.yaml``) is read from the same file in the project's cache
instead. ``$K8SNOTES_URL_MAP`` names a JSON file mapping each known URL to its
local copy; an unknown URL is left alone (and fails, as it should here).

The ``kubectl`` shell function of the page prelude runs it when an argument
holds ``https://``::

    python3 -m k8snotes.runner.urlshim apply --server-side -f https://...
"""

from __future__ import annotations

import json
import os
import sys


def rewrite(args: list[str], urls: dict[str, str]) -> tuple[list[str], list[str]]:
    """The arguments with known URLs replaced by their local copies, and the changes.

    ```python
    from k8snotes.runner.urlshim import rewrite

    args, notes = rewrite(["apply", "-f", "https://x/a.yaml"], {"https://x/a.yaml": "/c/a.yaml"})
    assert args == ["apply", "-f", "/c/a.yaml"]
    assert notes == ["kubectl read https://x/a.yaml from /c/a.yaml (no internet here)"]
    ```
    """
    out: list[str] = []
    notes: list[str] = []
    for arg in args:
        key, sep, value = arg.partition("=") if arg.startswith("-") else ("", "", arg)
        if value in urls:
            notes.append(f"kubectl read {value} from {urls[value]} (no internet here)")
            arg = f"{key}{sep}{urls[value]}"
        out.append(arg)
    return out, notes


def main(argv: list[str]) -> int:
    """Exec kubectl with known URLs replaced; say each change on stderr and in the notes."""
    path = os.environ.get("K8SNOTES_URL_MAP", "")
    urls: dict[str, str] = json.loads(open(path).read()) if path else {}
    args, notes = rewrite(argv, urls)
    for note in notes:
        print(f"[k8snotes] {note}", file=sys.stderr)
        if notes_file := os.environ.get("K8SNOTES_NOTES"):
            with open(notes_file, "a") as out:
                out.write(note + "\n")
    sys.stdout.flush()
    os.execvp("kubectl", ["kubectl", *args])
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
