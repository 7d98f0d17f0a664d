"""``cmestudy validate``: read and check every raw file, and say what was found in the user's language.

Every line comes from the message catalogues (``cli.*`` and ``problem.*``), in English or Chinese
(``--lang``, by default from the system's locale): what each file was read as, the problems with
file, row, column, value and what was expected, the warnings, the summary of the data, the rows set
aside by reason, and the titles the codebook does not grade with a ``codebook.yml`` snippet to paste.
"""

from __future__ import annotations

from cmestudy.problems import DataError

EXIT_OK, EXIT_INVALID = 0, 2


def error_text(exc: BaseException, lang: str) -> str:
    """An input error in ``lang``: the problems of a :class:`DataError`, or a missing directory's message."""
    from cmestudy import i18n

    if isinstance(exc, DataError):
        return exc.format(lang=lang)
    message = getattr(exc, "message_id", None)
    return i18n.t(message, lang, **exc.params) if message else str(exc)


def validate(raw_dir, years, lang: str = "en") -> tuple[int, str]:
    """Read and check every raw file; returns (exit code, human-readable report in ``lang``)."""
    from cmestudy import i18n
    from cmestudy.clean import cleaning, review
    from cmestudy.ingest import exports
    from cmestudy.schema import load_codebook

    try:
        ingested = exports.read_raw_dir(raw_dir, key=b"validate-only: keys are not kept")
        cleaned = cleaning.clean(ingested, years=years, codebook=load_codebook(raw_dir))
    except (FileNotFoundError, NotADirectoryError, DataError) as exc:
        return EXIT_INVALID, error_text(exc, lang)

    def t(msg: str, **values) -> str:
        return i18n.t(f"cli.{msg}", lang, **values)

    def n(value) -> str:
        return i18n.integer(value, lang)

    lines = [t("data_ok", raw=str(raw_dir))]
    for f in ingested.files:
        what = (
            i18n.t(f"label.kind_{f.kind}", lang)
            if f.kind
            else t("not_read", why=i18n.t(f"label.skipped_{f.skipped}", lang))
        )
        lines.append(t("file_line", where=f.where, what=what, rows=n(f.rows)))
    for w in ingested.warnings:
        lines.append(t("warning", text=w.text(lang)))
    for message, values in review.plausibility(cleaned.summary):
        lines.append(t("warning", text=i18n.t(message, lang, **values)))
    s = cleaned.summary
    lines.append(
        t(
            "summary",
            projects=n(s["projects"]),
            learners=n(s["learners"]),
            unknown=n(s["titles_unknown"]),
            excluded=n(s["enrolments_excluded"]),
            years=i18n.t("punct.enum_sep", lang).join(map(str, s["years"])),
        )
    )
    for reason, k in s["quarantine_by_reason"].items():
        lines.append(
            t("quarantined", n=n(k), reason=reason if lang == "en" else i18n.t(f"label.reason_{reason}", lang))
        )
    unknown = review.unknown_titles(cleaned.quarantine)
    if len(unknown):
        lines.append(t("unknown_titles"))
        lines += [t("unknown_title_line", title=title or t("empty_title"), n=n(k)) for title, k in unknown.items()]
        lines.append(t("snippet_hint"))
        snippet = review.codebook_snippet([u for u in unknown.index if u], lang)
        lines += ["    " + ln for ln in snippet.splitlines()]
    return EXIT_OK, "\n".join(lines)
