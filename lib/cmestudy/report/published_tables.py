"""The published figures and their reproduction as the report words them.

:func:`cmestudy.published.paper.compare` gives, per published figure, its kind, values and whether
it matches; this module writes each as the report shows it: what the figure is ("Live learners,
2021-2023", "χ² of 2021, junior vs intermediate"), the numbers at the published precision, the
reported p checked, a claim's text in the report's language and its evidence.
"""

from __future__ import annotations

import pandas as pd

from cmestudy import i18n


def claim_text(claim, lang: str | None = None) -> str:
    """A published statement in the report's language: ``text`` (of a claim of ``published.yml``, or
    given itself) may be one string or one per language."""
    text = claim["text"] if isinstance(claim, dict) and "text" in claim else claim
    if isinstance(text, dict):
        lang = lang or i18n.get_language()
        return str(text.get(lang) or text.get("en") or next(iter(text.values())))
    return str(text)


def evidence_text(evidence: dict | None) -> str:
    """A claim's evidence: "2021: Intermediate, 2022: ..." or "12 → 15 → 20"."""
    if evidence is None:
        return "not computed"
    if "grades" in evidence:
        return i18n.join([f"{y}: {i18n.t(f'word.{g}')}" for y, g in evidence["grades"]])
    write = i18n.integer if evidence.get("grouped") else (lambda v: str(int(v)))
    return " → ".join(write(v) for v in evidence["counts"])


def what(row) -> str:
    """What a compared figure is, in the report's language."""
    if row["kind"] == "total":
        years = {"first": int(row["first"]), "last": int(row["last"])}  # a row of mixed types holds them as floats
        return i18n.t("published.total", mode=i18n.t(f"word.{row['mode']}"), **years)
    if row["kind"] == "chisquare":
        titles = row["titles"]
        if len(titles) == 3:
            return i18n.t("published.chi2_table", year=int(row["year"]))
        pair = i18n.t("label.pair", first=i18n.t(f"word.{titles[0]}"), second=i18n.t(f"word.{titles[1]}"))
        return i18n.t("published.chi2_pair", year=int(row["year"]), pair=pair)
    return claim_text(row["statement"])


def sources_table(comparison: pd.DataFrame) -> pd.DataFrame:
    """Every compared figure with where it is published: what, published, reproduced, match, source, and
    for chi-squares the reported p checked and the p-value reproduced."""
    rows = []
    for _, r in comparison.iterrows():
        row = {"figure": r["figure"], "what": what(r), "match": bool(r["match"]), "source": r["source"]}
        if r["kind"] == "total":
            row |= {"reported_p_check": "", "published": i18n.integer(r["published"]),
                    "reproduced": i18n.integer(r["reproduced"])}  # fmt: skip
        elif r["kind"] == "chisquare":
            d = int(r["decimals"])
            row |= {
                "published": f"{r['published']:.{d}f}",
                "reproduced": f"{r['reproduced']:.{d}f}",
                "p_reproduced": r["p_reproduced"],
                "reported_p_consistent": r["reported_p_consistent"],
                "reported_p_check": i18n.t(
                    "published.p_consistent" if r["reported_p_consistent"] else "published.p_inconsistent",
                    p=f"{r['p_computed']:.2g}",
                ),
            }
        else:
            row |= {"reported_p_check": "", "published": "", "reproduced": evidence_text(r["evidence"]), "claim": True}
        rows.append(row)
    columns = ["figure", "what", "published", "reproduced", "match", "source", "reported_p_check", "p_reproduced",
               "reported_p_consistent", "claim"]  # fmt: skip
    out = pd.DataFrame(rows, columns=columns)
    out["claim"] = out["claim"].fillna(False).astype(bool)
    out.attrs["not_compared"] = comparison.attrs.get("not_compared", 0)
    return out


def comparison_table(comparison: pd.DataFrame, kind: str = "figures") -> pd.DataFrame:
    """The comparison as the report shows it.

    ``kind="figures"``: the published numbers (totals, chi-squares) with the reported-p check;
    ``kind="claims"``: the statements of the abstract, true or not on the reproduced data.
    """
    if kind not in ("figures", "claims"):
        raise ValueError(f"kind must be 'figures' or 'claims'; got {kind!r}")
    worded = sources_table(comparison)
    claims = worded["claim"]
    if kind == "figures":
        cols = {"what": "figure", "published": "published", "reproduced": "reproduced", "match": "match",
                "reported_p_check": "reported_p"}  # fmt: skip
        rows = worded[~claims]
    else:
        cols = {"what": "statement", "reproduced": "reproduced", "match": "holds"}
        rows = worded[claims]
    out = rows[list(cols)].rename(columns=cols).reset_index(drop=True)
    out["match" if kind == "figures" else "holds"] = out["match" if kind == "figures" else "holds"].astype(bool)
    return out
