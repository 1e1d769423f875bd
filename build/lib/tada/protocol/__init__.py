"""The evaluation protocol: AUC, smoothness and quality of steering curves, tables and plots."""
