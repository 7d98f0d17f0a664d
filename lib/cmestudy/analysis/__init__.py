"""Analysis: the study's statistics, returned as numbers (result objects and frames with canonical keys), in no language."""
