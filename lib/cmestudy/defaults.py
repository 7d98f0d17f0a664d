"""The study's defaults, defined once.

The command line (:mod:`cmestudy.run.cli`), the pipeline (:class:`cmestudy.run.config.RunConfig`)
and the statistics read them here; the notebooks' ``parameters`` cells must hold literals
for papermill, and a test checks that each equals the value here.
"""

from __future__ import annotations

#: Study years: None means every year found in the project register.
YEARS: list[int] | None = None
#: Significance level of every test.
ALPHA = 0.05
#: Confidence level of every interval (separate from ALPHA: a 99% interval beside tests at 0.05 is a choice).
CONFIDENCE = 0.95
#: Adjustment of the p-values of the pairwise title comparisons within a year.
ADJUST = "bonferroni"
ADJUSTMENTS = ("bonferroni", "holm", "none")
#: Language of the report.
LANG = "en"
#: Months projected ahead in the prospects (12 to 36), and an optional change in the monthly trend: a date
#: (YYYY-MM) from which the level steps (``"step"``) or the slope changes (``"slope"``), e.g. the end of
#: COVID-19 restrictions; None fits no change.
HORIZON_MONTHS = 24
CHANGE_DATE: str | None = None
CHANGE_KIND = "step"
CHANGE_KINDS = ("step", "slope")
#: Smallest count an institution's table shows: counts from 1 to MIN_CELL - 1 are written "<5" (as health
#: statistics offices publish), with secondary suppression (``--min-cell``).
MIN_CELL = 5
#: Ingest engine and Dask scheduler address (None: threads on this machine).
ENGINE = "pandas"
SCHEDULER: str | None = None
#: Longest a notebook cell may run, and a kernel may take to answer, in seconds (``--cell-timeout``).
#: Generous: the longest cell of the study (ingest of a 100-million-row export) takes minutes.
CELL_TIMEOUT = 1800.0
#: Longest the exact Fisher test of one r x c table may run before it gives way to Monte Carlo with a 99%
#: interval (as SPSS Exact Tests' ``TIMER``, whose default is 5 minutes), in seconds.
EXACT_SECONDS = 60.0
#: Notebooks 03-05 run side by side, this many at a time.
JOBS = 3
#: Seed of every simulation of the study (Monte Carlo p-values, prediction intervals), so that reruns agree.
SEED = 20250315
#: The report's formats, in the order they are written (``--formats``).
FORMATS = ("html", "pdf", "docx")
