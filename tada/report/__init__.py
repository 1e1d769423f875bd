"""Pages for the Snakemake report: playable steering clips and Markdown tables as HTML."""
