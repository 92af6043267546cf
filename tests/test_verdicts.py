"""Verdicts drawn from records: sentences that stay true either way, glue keys, the summary rows."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tricks_lab import verdicts
from tricks_lab.recipe import BASELINE
from tricks_lab.results import Comparison, Result

from fakes import fake_result


def _result(arm_acc: float, seed: int, recipe=BASELINE) -> Result:
    return fake_result(recipe, seed, arm_acc)


def _comparison(base: list[float], trick: list[float]) -> Comparison:
    return Comparison("lab", tuple(range(len(base))), {
        "baseline": [_result(a, s) for s, a in enumerate(base)],
        "trick": [_result(a, s, BASELINE.replace(label_smoothing=0.1)) for s, a in enumerate(trick)],
    })


def test_the_sentence_says_better_worse_or_indistinguishable_from_the_interval() -> None:
    base = [0.68, 0.69, 0.67, 0.70, 0.68]
    better = verdicts.difference_sentence(_comparison(base, [a + 0.01 for a in base]), "trick")
    assert "+1.00 points" in better and "better than baseline" in better and "paired interval" in better
    worse = verdicts.difference_sentence(_comparison(base, [a - 0.02 + 0.001 * i for i, a in enumerate(base)]),
                                         "trick")
    assert "worse than baseline" in worse
    noisy = verdicts.difference_sentence(_comparison(base, [0.69, 0.67, 0.68, 0.69, 0.69]), "trick")
    assert "not distinguishable from baseline" in noisy


def test_a_single_seed_is_never_called_a_verdict() -> None:
    sentence = verdicts.difference_sentence(_comparison([0.68], [0.70]), "trick")
    assert "single seed" in sentence and "better" not in sentence


def test_glue_keys_are_slugs() -> None:
    key = verdicts.glue_key("03_label_smoothing", "main", "smoothing 0.1", "diff")
    assert key == "03-label-smoothing-main-smoothing-0-1-diff"


def test_glue_part_glues_every_registry_arm_even_without_a_record(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("myst_nb")
    monkeypatch.setenv("TRICKS_LAB_RESULTS", str(tmp_path))
    values = verdicts.glue_part("03_label_smoothing", "main")
    assert values[verdicts.glue_key("03_label_smoothing", "main", "smoothing 0.1", "diff")] == verdicts.NOT_MEASURED
    sentence = values[verdicts.glue_key("03_label_smoothing", "main", "smoothing 0.1", "sentence")]
    assert sentence == "smoothing 0.1 against baseline: not measured yet."
    assert len(values) == 2 * 5


def test_the_committed_baseline_record_reads_as_a_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    results = Path(__file__).resolve().parent.parent / "book" / "results"
    monkeypatch.setenv("TRICKS_LAB_RESULTS", str(results))
    part = verdicts.load_part("00_baseline", "main")
    if part is None:
        pytest.skip("no lab record of chapter 00 committed")
    accs = list(part.comparison.accuracies("baseline").values())
    assert len(accs) == 10 and all(0.1 < a < 1 for a in accs) and not math.isnan(sum(accs))
    rows = verdicts.summary_rows()
    assert rows and all(r.verdict in ("better", "worse", "no detectable effect", verdicts.NOT_MEASURED) for r in rows)


def test_power_summary_falls_back_to_an_upper_bound_without_paired_records(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    results = Path(__file__).resolve().parent.parent / "book" / "results"
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab" / "00_baseline.json").write_bytes((results / "lab" / "00_baseline.json").read_bytes())
    monkeypatch.setenv("TRICKS_LAB_RESULTS", str(tmp_path))
    report = verdicts.power_summary("lab", n=5)
    assert report is not None and report.baseline_n == 10
    assert math.isclose(report.difference_sd, math.sqrt(2) * report.baseline_sd)
    assert "upper bound" in report.difference_source
    assert report.seeds_for[0.003] >= report.seeds_for[0.005] >= report.seeds_for[0.01] >= 2


def test_power_summary_and_summary_table_without_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRICKS_LAB_RESULTS", str(tmp_path))
    assert verdicts.power_summary("lab") is None
    table = verdicts.summary_markdown("lab")
    assert "{doc}`09 mixup and CutMix <09_mixup>`" in table and verdicts.NOT_MEASURED in table


def test_summary_figure_draws_with_or_without_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.setenv("TRICKS_LAB_RESULTS", str(tmp_path))
    fig = verdicts.summary_figure("lab")
    assert "not measured yet" in fig.axes[0].texts[0].get_text()


def test_missing_parts_are_announced_once_per_experiment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython.display

    monkeypatch.setenv("TRICKS_LAB_RESULTS", str(tmp_path))
    monkeypatch.setattr(verdicts, "_ANNOUNCED", set())
    shown: list[object] = []
    monkeypatch.setattr(IPython.display, "display", lambda *objects: shown.extend(objects))
    assert verdicts.missing_parts("06_cutout") == ["main", "longer", "length"]
    for part in ("main", "longer", "length"):
        assert verdicts.show_part("06_cutout", part) is None
    assert len(shown) == 1
    note = shown[0].data
    assert "<code>main</code>, <code>longer</code>, <code>length</code>" in note
    assert "python -m tricks_lab reproduce 06_cutout --profile lab" in note and 'class="admonition note"' in note
    verdicts.show_part("07_random_erasing", "main")  # another experiment on the same page says it again
    assert len(shown) == 2


def test_a_gpu_profile_does_not_miss_the_parts_it_never_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRICKS_LAB_RESULTS", str(tmp_path))
    assert verdicts.missing_parts("12_bag_of_tricks", "short") == ["added", "refinements"]  # "removed" is CPU-only
    assert verdicts.missing_parts("12_bag_of_tricks", "lab") == ["added", "removed", "refinements", "added_longer"]


def test_a_stack_reads_each_step_against_the_row_before() -> None:
    from tricks_lab.stats import paired_interval

    def runs(recipe, accuracies):
        return [_result(acc, seed, recipe) for seed, acc in enumerate(accuracies)]

    comparison = Comparison("lab", (0, 1, 2), {
        "baseline": runs(BASELINE, [0.60, 0.62, 0.61]),
        "+ a": runs(BASELINE.replace(label_smoothing=0.1), [0.65, 0.66, 0.66]),
        "+ a + b": runs(BASELINE.replace(label_smoothing=0.2), [0.65, 0.67, 0.66]),
    })
    steps = verdicts.step_differences(comparison)
    assert [(arm, previous) for arm, previous, _ in steps] == [("+ a", "baseline"), ("+ a + b", "+ a")]
    assert steps[1][2] == paired_interval([0.65, 0.67, 0.66], [0.65, 0.66, 0.66])
    assert steps[0][2].low > 0  # +a is a clear step up; +b is not
    assert verdicts.verdict(steps[1][2]) == "no detectable effect"


def test_the_step_table_of_a_missing_part_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRICKS_LAB_RESULTS", str(tmp_path))
    assert "not measured yet" in verdicts.step_markdown("12_bag_of_tricks", "added")


def test_a_sweep_row_in_the_summary_is_its_chosen_arm_against_the_reference(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tricks_lab.records import PartRecord, experiment_record_path, save_experiment_record
    from tricks_lab.registry import experiment_for

    monkeypatch.setenv("TRICKS_LAB_RESULTS", str(tmp_path))
    unmeasured = [r for r in verdicts.summary_rows() if r.experiment == "06_cutout" and r.part == "length"]
    assert [(r.arm, r.verdict) for r in unmeasured] == [("the `length` sweep's choice", verdicts.NOT_MEASURED)]
    recipes = experiment_for("06_cutout").part("length").recipes
    base, chosen = [0.60, 0.62, 0.61, 0.63, 0.60], [0.64, 0.66, 0.64, 0.67, 0.65]
    full = Comparison("lab", tuple(range(5)), {
        "baseline": [_result(a, s, recipes["baseline"]) for s, a in enumerate(base)],
        "cutout 24": [_result(a, s, recipes["cutout 24"]) for s, a in enumerate(chosen)]})
    part = PartRecord("length", "sweep", 1.0, full, "cutout 24", full)
    save_experiment_record(experiment_record_path("06_cutout", "lab"), "06_cutout", "lab", [part])
    (row,) = [r for r in verdicts.summary_rows() if r.experiment == "06_cutout" and r.part == "length"]
    assert row.arm == "cutout 24 (chosen on validation)" and row.reference == "baseline"
    assert row.verdict == "better" and math.isclose(row.estimate, sum(chosen) / 5 - sum(base) / 5)
    assert not [r for r in verdicts.summary_rows() if r.part in ("lr_grid", "batch_grid", "temperature")]


def _store_length_sweep(val: dict[str, float], test: dict[str, list[float]]) -> None:
    """A 06_cutout `length` record: every point on 3 seeds (validation accuracy ``val``), ``test`` on 5."""
    from tricks_lab.records import PartRecord, experiment_record_path, save_experiment_record
    from tricks_lab.registry import experiment_for

    recipes = experiment_for("06_cutout").part("length").recipes
    points = Comparison("lab", (0, 1, 2), {arm: [fake_result(recipes[arm], s, 0.6, val_acc=v) for s in range(3)]
                                           for arm, v in val.items()})
    chosen = max((arm for arm in val if arm != "baseline"), key=val.get)
    full = Comparison("lab", tuple(range(5)), {arm: [fake_result(recipes[arm], s, a) for s, a in enumerate(accs)]
                                               for arm, accs in test.items()})
    part = PartRecord("length", "sweep", 1.0, full, chosen, points)
    save_experiment_record(experiment_record_path("06_cutout", "lab"), "06_cutout", "lab", [part])


def test_the_sweep_sentence_says_what_was_chosen_how_and_how_it_fared(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRICKS_LAB_RESULTS", str(tmp_path))
    assert verdicts.sweep_sentence("06_cutout", "length") == "the `length` sweep's choice: not measured yet."
    base, chosen = [0.60, 0.62, 0.61, 0.63, 0.60], [0.64, 0.66, 0.64, 0.67, 0.65]
    _store_length_sweep({"baseline": 0.60, "cutout 8": 0.61, "cutout 16": 0.64, "cutout 24": 0.62},
                        {"baseline": base, "cutout 16": chosen})
    sentence = verdicts.sweep_sentence("06_cutout", "length")
    assert sentence.startswith("Of the 3 settings run on 3 seeds, the validation split chose cutout 16. ")
    assert "On all 5 seeds, cutout 16: +4.00 points" in sentence and "better than baseline" in sentence
    assert sentence.endswith("The 3 seeds that chose it are among these 5, so the estimate leans its way.")


def test_the_sweep_sentence_says_when_no_setting_beat_the_reference_on_validation(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRICKS_LAB_RESULTS", str(tmp_path))
    base = [0.60, 0.62, 0.61, 0.63, 0.60]
    _store_length_sweep({"baseline": 0.65, "cutout 8": 0.61, "cutout 16": 0.64, "cutout 24": 0.62},
                        {"baseline": base, "cutout 16": [a - 0.001 for a in base]})
    sentence = verdicts.sweep_sentence("06_cutout", "length")
    assert "chose cutout 16 (none of them beat baseline's own validation accuracy)." in sentence


def test_only_a_sweep_has_a_sweep_sentence() -> None:
    with pytest.raises(ValueError, match=r"06_cutout/main is a 'main' part, not a sweep"):
        verdicts.sweep_sentence("06_cutout", "main")


def test_glue_sweep_glues_the_sentence_under_a_key_that_exists_without_a_record(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("myst_nb")
    monkeypatch.setenv("TRICKS_LAB_RESULTS", str(tmp_path))
    assert verdicts.glue_sweep("mixing", "mixup_alpha") == "the `mixup_alpha` sweep's choice: not measured yet."


def _accuracies(per_arm: dict[str, dict[int, float]]) -> Comparison:
    """A comparison with the given test accuracy per arm and seed (the first arm is the reference)."""
    recipes = {"baseline": BASELINE, "mixup": BASELINE.replace(mixing="mixup")}
    seeds = tuple(next(iter(per_arm.values())))
    return Comparison("lab", seeds, {arm: [_result(acc, seed, recipes[arm]) for seed, acc in accs.items()]
                                     for arm, accs in per_arm.items()})


def test_gap_change_sentence_reads_the_paired_change_of_the_gap() -> None:
    main = _accuracies({"baseline": {0: 0.50, 1: 0.52, 2: 0.54}, "mixup": {0: 0.40, 1: 0.43, 2: 0.44}})
    longer = _accuracies({"baseline": {0: 0.60, 1: 0.62, 2: 0.64}, "mixup": {0: 0.58, 1: 0.61, 2: 0.62}})
    sentence = verdicts.gap_change_sentence(main, longer, "mixup", 3.0)
    # per seed the gap moves from -10, -9, -10 to -2, -1, -2 points: +8 each
    assert "from the recipe's budget to 3x the epochs" in sentence and "changes by +8.00 points" in sentence
    assert "over 3 seeds" in sentence and "in mixup's favour" in sentence
    noisy = _accuracies({"baseline": {0: 0.60, 1: 0.62, 2: 0.64}, "mixup": {0: 0.55, 1: 0.44, 2: 0.60}})
    assert "cannot tell this change from no change" in verdicts.gap_change_sentence(main, noisy, "mixup")
    worse = _accuracies({"baseline": {0: 0.60, 1: 0.62, 2: 0.64}, "mixup": {0: 0.40, 1: 0.43, 2: 0.43}})
    assert "against mixup" in verdicts.gap_change_sentence(main, worse, "mixup")
    assert "not measured yet" in verdicts.gap_change_sentence(main, None, "mixup", 3.0)
    one = _accuracies({"baseline": {0: 0.60}, "mixup": {0: 0.58}})
    assert "too few for an interval" in verdicts.gap_change_sentence(main, one, "mixup")
    with pytest.raises(ValueError, match="has no arm 'cutmix'"):
        verdicts.gap_change_sentence(main, longer, "cutmix")


def test_a_chapters_budget_change_list_reads_its_stored_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tricks_lab.records import PartRecord, experiment_record_path, save_experiment_record

    monkeypatch.setenv("TRICKS_LAB_RESULTS", str(tmp_path))
    missing = verdicts.budget_change_markdown("06_cutout").splitlines()
    assert missing == ["- cutout 16: the change of its gap between the recipe's budget and 3x the epochs is "
                       "not measured yet."]
    main = Comparison("lab", (0, 1, 2), {"baseline": [_result(a, s) for s, a in enumerate([0.60, 0.62, 0.61])],
                                         "cutout 16": [_result(a, s) for s, a in enumerate([0.55, 0.57, 0.57])]})
    longer = Comparison("lab", (0, 1, 2), {"baseline": [_result(a, s) for s, a in enumerate([0.70, 0.71, 0.72])],
                                           "cutout 16": [_result(a, s) for s, a in enumerate([0.70, 0.71, 0.73])]})
    save_experiment_record(experiment_record_path("06_cutout", "lab"), "06_cutout", "lab",
                           [PartRecord("main", "main", 1.0, main), PartRecord("longer", "longer", 3.0, longer)])
    (line,) = verdicts.budget_change_markdown("06_cutout").splitlines()
    assert line == "- " + verdicts.gap_change_sentence(main, longer, "cutout 16", 3.0)
    assert "in cutout 16's favour" in line


def test_every_longer_part_pairs_with_the_main_part_holding_its_arms() -> None:
    from tricks_lab.registry import EXPERIMENTS

    pairs = {e.name: verdicts.budget_pairs(e.name) for e in EXPERIMENTS}
    assert pairs["12_bag_of_tricks"] == [("added", "added_longer")]
    assert pairs["07_random_erasing"] == [("main", "longer")] and pairs["10_adabound"] == []
    assert sum(len(p) for p in pairs.values()) == sum(
        part.kind == "longer" for e in EXPERIMENTS for part in e.parts)


def test_the_summary_of_longer_budgets_pairs_each_gap_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tricks_lab.records import PartRecord, experiment_record_path, save_experiment_record

    monkeypatch.setenv("TRICKS_LAB_RESULTS", str(tmp_path))
    main = Comparison("lab", (0, 1, 2), {"baseline": [_result(a, s) for s, a in enumerate([0.60, 0.62, 0.61])],
                                         "cutout 16": [_result(a, s) for s, a in enumerate([0.55, 0.58, 0.56])]})  # gaps -5, -4, -5
    longer = Comparison("lab", (0, 1, 2), {"baseline": [_result(a, s) for s, a in enumerate([0.70, 0.71, 0.72])],
                                           "cutout 16": [_result(a, s) for s, a in enumerate([0.69, 0.71, 0.70])]})
    save_experiment_record(experiment_record_path("06_cutout", "lab"), "06_cutout", "lab",
                           [PartRecord("main", "main", 1.0, main), PartRecord("longer", "longer", 3.0, longer)])
    table = verdicts.budget_change_summary("lab").splitlines()
    (row,) = [line for line in table if line.startswith("| {doc}`06 Cutout")]
    d, seeds = verdicts.gap_change(main, longer, "cutout 16")
    assert seeds == [0, 1, 2] and d.low > 0
    assert row == (f"| {{doc}}`06 Cutout <06_cutout>` | cutout 16 | baseline | -4.67 | -1.00 | "
                   f"{100 * d.estimate:+.2f} | [{100 * d.low:+.2f}, {100 * d.high:+.2f}] | toward the trick |")
    others = [line for line in table[2:] if "06 Cutout" not in line]
    assert others and all(verdicts.NOT_MEASURED in line for line in others)


def test_the_teachers_accuracy_is_said_per_teacher_or_said_missing() -> None:
    from tricks_lab.records import PartRecord
    from tricks_lab.registry import experiment_for

    part = experiment_for("05_distillation").part("main")
    recipes = part.recipes
    comparison = Comparison("lab", (0,), {arm: [_result(0.7, 0, recipe)] for arm, recipe in recipes.items()})
    wide = recipes["from a 2x wider teacher"].teacher
    stored = PartRecord("main", "main", 1.0, comparison,
                        teachers={"from a 2x wider teacher": fake_result(wide, 0, 0.7767, val_acc=0.79)})
    wider, born_again = verdicts.teacher_sentences("05_distillation", stored)
    assert wider.startswith("The teacher of `from a 2x wider teacher` (fastnet, width x2, 8 epochs")
    assert "test 77.67%, validation 79.00%" in wider
    assert "`born-again (same-size teacher)`" in born_again and "not at hand" in born_again
    plain = experiment_for("03_label_smoothing").part("main").recipes
    undistilled = Comparison("lab", (0,), {arm: [_result(0.7, 0, recipe)] for arm, recipe in plain.items()})
    assert verdicts.teacher_sentences("03_label_smoothing", PartRecord("main", "main", 1.0, undistilled)) == []


def test_arms_taught_by_one_teacher_share_its_sentence() -> None:
    from tricks_lab.records import PartRecord
    from tricks_lab.registry import experiment_for

    part = experiment_for("05_distillation").part("temperature")
    points = Comparison("lab", (0,), {arm: [_result(0.7, 0, recipe)] for arm, recipe in part.recipes.items()})
    teacher = part.recipes["T=4, alpha=0.5"].teacher
    stored = PartRecord("temperature", "grid", 1.0, points,
                        teachers={arm: fake_result(teacher, 0, 0.78) for arm in part.recipes if arm != "student alone"})
    (sentence,) = verdicts.teacher_sentences("05_distillation", stored)
    assert sentence.count("`T=") == 4 and "test 78.00%" in sentence
