"""Snakemake script of rule localization_pairs: the prompt pairs of one architecture."""

from tada.localization.prompts import prompt_pairs
from tada.logging import setup_job

sm = snakemake  # noqa: F821
log = setup_job(sm.log[0])
pairs = prompt_pairs(
    sm.wildcards.arch, sm.params.features, sm.params.per_feature, sm.input[0] if sm.input else None, sm.params.seed
)
pairs.to_parquet(sm.output[0], index=False)
log.info("wrote %d pairs (%s) to %s", len(pairs), pairs.original_feature.value_counts().to_dict(), sm.output[0])
