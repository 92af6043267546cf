"""Pending runs: the file's round trip, its clear errors, and its removal once nothing is pending."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fakes import fake_result
from tricks_lab.pending import PendingRun, load_pending, pending_path, save_pending
from tricks_lab.recipe import BASELINE


def _runs(profile: str = "lab") -> list[PendingRun]:
    return [PendingRun("longer", "baseline", "v1", fake_result(BASELINE.replace(epochs=12), 0, 0.7, profile=profile)),
            PendingRun("longer", "cosine", "v2", fake_result(BASELINE.replace(epochs=12, schedule="cosine"), 3, 0.75,
                                                               profile=profile))]


def test_pending_runs_come_back_as_they_were_written(tmp_path: Path) -> None:
    path = save_pending(tmp_path / "lab" / "pending" / "08_cosine.json", "08_cosine", "lab", _runs(),
                        command="python -m tricks_lab reproduce 08_cosine")
    experiment, profile, runs = load_pending(path)
    assert (experiment, profile) == ("08_cosine", "lab")
    assert [(r.part, r.arm, r.training_code) for r in runs] == [("longer", "baseline", "v1"), ("longer", "cosine", "v2")]
    assert [r.result.to_dict() for r in runs] == [r.result.to_dict() for r in _runs()]
    raw = json.loads(path.read_text())
    assert raw["provenance"]["command"] == "python -m tricks_lab reproduce 08_cosine"
    assert raw["provenance"]["train_seconds_total"] == 2.0


def test_nothing_pending_removes_the_file(tmp_path: Path) -> None:
    path = save_pending(tmp_path / "x.json", "08_cosine", "lab", _runs())
    assert path is not None and path.is_file()
    assert save_pending(path, "08_cosine", "lab", []) is None
    assert not path.exists()
    assert save_pending(path, "08_cosine", "lab", []) is None  # already absent: still fine


def test_a_run_of_another_profile_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"longer/baseline was made under profile 'smoke', not 'lab'"):
        save_pending(tmp_path / "x.json", "08_cosine", "lab", _runs(profile="smoke"))
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize("content, message", [
    ("{not json", "cannot read pending runs"),
    ('{"schema": 9, "runs": []}', "schema 9, expected 1"),
    ('{"schema": 1, "experiment": "x", "profile": "lab", "runs": [{"part": "p"}]}', "'arm'"),
])
def test_a_malformed_pending_file_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as caught:
        load_pending(path)
    assert str(path) in str(caught.value)


def test_the_pending_file_lives_beside_the_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRICKS_LAB_RESULTS", str(tmp_path))
    assert pending_path("12_bag_of_tricks", "lab") == tmp_path / "lab" / "pending" / "12_bag_of_tricks.json"
