"""Each NTIRE year's own rule (protocols/ntire_years.toml), checked against the organizers' published rules."""

import math

import pytest
from sr_harness.protocols.years import load_years, meets, score, year_of


def test_the_table_carries_the_organizers_rules():
    years = load_years()
    assert years[2024].weights == {"runtime": 0.7, "flops": 0.15, "params": 0.15}  # NTIRE2024_ESR README, Step 4
    assert years[2024].thresholds_db == {"DIV2K_LSDIR_valid": 26.90, "DIV2K_LSDIR_test": 26.99}
    assert (years[2024].baseline_team, years[2022].baseline_team) == (0, -1)  # RLFN; IMDN
    assert years[2022].flop_counter == "model_summary" and years[2024].flop_counter == "fvcore"
    assert all(rule.source for rule in years.values())


def test_the_baseline_scores_e_squared_on_every_term_in_2024():
    rule, base = load_years()[2024], {"runtime": 13.54, "flops": 19.67, "params": 0.317}
    assert score(rule, base, base) == pytest.approx(math.exp(2))  # README: Score_Final = 7.3891 for RLFN
    half = {"runtime": 13.54 / 2, "flops": 19.67, "params": 0.317}
    assert score(rule, half, base) == pytest.approx(0.7 * math.e + 0.3 * math.exp(2))


def test_2022_ranks_by_runtime_relative_to_its_baseline():
    rule = load_years()[2022]
    assert score(rule, {"runtime": 5.0, "flops": 1, "params": 1}, {"runtime": 10.0, "flops": 9, "params": 9}) == 0.5


def test_psnr_is_rounded_to_two_decimals_half_up_before_the_threshold():
    assert meets(26.896, 26.90) and meets(26.895, 26.90)
    assert not meets(26.894, 26.90) and not meets(float("nan"), 26.90)


def test_a_repository_is_told_by_its_script_or_its_folder_name():
    years = load_years()
    assert year_of(years[2022].script_sha256, "/somewhere/else") == 2022
    assert year_of("0" * 64, "/x/NTIRE2025_ESR") == 2025
    assert year_of("0" * 64, "/x/my_fork") is None


def test_the_2022_table_is_carried_per_team_and_compared_column_by_column():
    from sr_harness.protocols.years import load_published, published_differences  # noqa: PLC0415

    table = load_published(load_years()[2022])
    assert len(table) == 45 and table[4]["name"] == "ByteESR" and table[-1]["name"] == "IMDN_baseline"
    # RLFN (team 04) as the 2022 counter measures it on the released file: 317,218 params, 19.6953 G, 80.0452 M, 39
    rlfn = {"params": 317218, "flops_g_own": 19.695306752, "activations_m": 80.045184, "convs": 39}
    assert published_differences(table[4], rlfn) == []
    assert published_differences(table[4], {**rlfn, "flops_g_own": 19.6749}) == ["flops_g"]  # fvcore's number
    assert published_differences(table[4], {**rlfn, "convs": 40}) == ["convs"]
