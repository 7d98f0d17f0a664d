"""Published: the paper's figures, their reproduction, the reconstructed data set and what the figures pin down."""
