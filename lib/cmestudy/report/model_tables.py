"""The models' projections as the report names them: the prediction interval at the study's level labelled in the reader's language."""

from __future__ import annotations

import pandas as pd

from cmestudy import i18n


def projections(table: pd.DataFrame, lang: str | None = None) -> pd.DataFrame:
    """A projection table (:func:`cmestudy.analysis.trends.projection_table`,
    :func:`cmestudy.analysis.forecast.annual_projection_table`) with its ``("pi", bound)`` columns
    named by their level, e.g. "95% PI" or "95%预测区间"; the 50% and 80% bands keep their codes, which
    the report's label catalogue words."""
    if table.empty or "confidence" not in table.attrs:
        return table
    level = i18n.t("label.pi_level", lang, level=f"{100 * table.attrs['confidence']:.10g}")
    out = table.copy()
    out.columns = pd.MultiIndex.from_tuples([(level if c[0] == "pi" else c[0], c[1]) for c in table.columns])
    return out
