"""The paper's claims on a protocol table: families by best cell, controls excluded, published names mapped."""

from __future__ import annotations

import pandas as pd
import pytest

from tada.protocol.claims import agreement, claim_verdicts, claims_markdown, write_claims


def table(auc: dict[str, float], csm: dict[str, float] | None = None, metric: str = "mini") -> pd.DataFrame:
    csm = csm or {cell: 0.1 for cell in auc}
    rows = [{"concept": "average", "cell": c, f"auc_{metric}": a, f"csm_{metric}": csm[c]} for c, a in auc.items()]
    return pd.DataFrame(rows)


OURS = {
    "pci_all": 9.0, "textemb_loc": 8.0, "freesliders_all": 7.0, "sliders_all": 1.0,
    "caa_all": 0.5, "caa_loc": 10.0, "caa_random": 12.0, "austeer_all": 3.0, "austeer_loc": 2.0,
}  # fmt: skip
PUBLISHED = {"pci_all": 0.08, "cs_all": 0.09, "freesliders_all": 0.07, "caa_all": 0.07, "caa_loc": 0.10, "sae": 0.12}


def verdict(verdicts: pd.DataFrame, claim: str, source: str = "ours") -> bool | None:
    rows = verdicts[(verdicts["claim"] == claim) & (verdicts["source"] == source)]
    assert len(rows) == 1
    holds = rows["holds"].iloc[0]
    return None if holds is None else bool(holds)


def test_auc_claim_compares_the_best_localized_activation_cell_with_each_family() -> None:
    verdicts = claim_verdicts(table(OURS), table(PUBLISHED, metric="clap"))
    assert verdict(verdicts, "auc") is True  # caa_loc 10 > pci 9; the random control (12) is no family's cell
    assert "caa_loc 10" in verdicts.iloc[0]["evidence"] and "caa_random" not in verdicts.iloc[0]["evidence"]
    assert verdict(verdicts, "auc", "published") is True  # the published "sae" is our sae_loc
    lower = claim_verdicts(table(OURS | {"caa_loc": 8.5}), None)
    assert verdict(lower, "auc") is False


def test_localization_and_random_control_claims_need_every_method_to_hold() -> None:
    verdicts = claim_verdicts(table(OURS), table(PUBLISHED, metric="clap"))
    assert verdict(verdicts, "localization") is False  # austeer_loc 2 < austeer_all 3
    assert verdict(verdicts, "localization", "published") is True
    assert verdict(verdicts, "random_control") is False  # caa_random 12 > caa_loc 10
    assert verdict(verdicts, "random_control", "published") is None  # the paper has no random arm
    assert agreement(verdicts, "localization") == "disagrees"
    assert agreement(verdicts, "auc") == "agrees"
    assert agreement(verdicts, "random_control") == "does not hold"


def test_smoothness_claim_takes_each_familys_smoothest_cell() -> None:
    csm = {cell: 0.3 for cell in OURS} | {"caa_loc": 0.05, "sliders_all": 0.04}
    verdicts = claim_verdicts(table(OURS, csm), None)
    assert verdict(verdicts, "smoothness") is False
    verdicts = claim_verdicts(table(OURS, csm | {"sliders_all": 0.06}), None)
    assert verdict(verdicts, "smoothness") is True


def test_page_says_plainly_where_the_run_agrees(tmp_path) -> None:
    ours = table(OURS | {"caa_loc": 8.5})
    verdicts = write_claims("mini", ours, table(PUBLISHED, metric="clap"), tmp_path / "c.csv", tmp_path / "c.md")
    page = (tmp_path / "c.md").read_text()
    assert "**auc**" in page and "`mini` does **not** agree with the paper" in page
    assert pd.read_csv(tmp_path / "c.csv").shape[0] == len(verdicts) == 8
    assert "the paper" not in claims_markdown("mini", claim_verdicts(ours, None)).split("## Plainly")[1]


def test_concept_rows_are_averaged_when_the_table_has_no_average() -> None:
    rows = table(OURS).assign(concept="violin")
    other = rows.assign(concept="fast", auc_mini=rows["auc_mini"] * 3)
    verdicts = claim_verdicts(pd.concat([rows, other]), None)
    assert "caa_loc 20" in verdicts.iloc[0]["evidence"]
    with pytest.raises(KeyError):
        claim_verdicts(pd.DataFrame({"cell": ["caa_loc"]}), None)


def test_auc_pairs_within_one_percent_are_a_tie_that_does_not_beat() -> None:
    tied = claim_verdicts(table(OURS | {"austeer_loc": 3.02}), None)  # 3.02 vs 3.00: within 1 %
    row = tied[tied["claim"] == "localization"].iloc[0]
    assert not row["holds"] and "austeer: 3.02 vs 3 (a tie)" in row["evidence"] and "caa: 10 vs 0.5;" in row["evidence"]
    beaten = claim_verdicts(table(OURS | {"austeer_loc": 3.1}), None)
    row = beaten[beaten["claim"] == "localization"].iloc[0]
    assert row["holds"] and "tie" not in row["evidence"]
