"""Audio-text scorers behind one interface (:class:`tada.scoring.base.AudioTextScorer`): alignment
and the stage features LPAPS uses.

``mini`` (the mini world's scorer), ``clap`` (``transformers.ClapModel``), ``mulan`` (MuQ-MuLan), and
``clap_convert`` (LAION-CLAP checkpoints, such as the paper's music CLAP, to the ``ClapModel`` layout).
"""
