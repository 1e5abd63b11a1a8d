"""JSON records written whole or not at all (k8snotes/records.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from k8snotes.records import read_json, updated_json, write_json_atomic


def test_write_json_atomic_writes_what_write_text_would(tmp_path: Path) -> None:
    data = {"b": [1, 2], "a": {"c": None}}
    path = tmp_path / "new" / "folder" / "state.json"
    write_json_atomic(path, data, indent=2, sort_keys=True)
    assert path.read_text() == json.dumps(data, indent=2, sort_keys=True)
    plain = tmp_path / "plain.json"
    plain.write_text("")
    assert path.stat().st_mode == plain.stat().st_mode
    assert sorted(p.name for p in path.parent.iterdir()) == ["state.json"]


def test_a_failed_write_leaves_the_old_record_and_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_json_atomic(path, {"ok": True})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"not json": object()})
    assert json.loads(path.read_text()) == {"ok": True}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_read_json(tmp_path: Path) -> None:
    assert read_json(tmp_path / "absent.json") is None
    write_json_atomic(tmp_path / "x.json", [1])
    assert read_json(tmp_path / "x.json") == [1]


def test_updated_json_writes_on_success_only(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    with updated_json(path, "a test record", indent=1) as data:
        assert data == {}
        data["a"] = 1
    assert path.read_text() == json.dumps({"a": 1}, indent=1)
    with pytest.raises(RuntimeError), updated_json(path, "a test record") as data:
        data["a"] = 2
        raise RuntimeError("cut off")
    assert json.loads(path.read_text()) == {"a": 1}
    assert (tmp_path / "record.json.lock").exists()


def test_concurrent_updates_lose_nothing(tmp_path: Path) -> None:
    """Processes that each add keys to one record: every key is there at the end."""
    path = tmp_path / "shared.json"
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from k8snotes.records import updated_json\n"
        "for i in range(25):\n"
        "    with updated_json(Path(sys.argv[1]), 'the shared record') as data:\n"
        "        data[f'{sys.argv[2]}-{i}'] = i\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path), str(n)]) for n in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    assert len(json.loads(path.read_text())) == 4 * 25
