"""cmestudy: evaluate continuing medical education (CME) programmes.

Reproduces Wei, Ye & Yu (2025), "Investigation and prospects analysis of the
implementation of continuing medical education programs via 'cloud live broadcast'
in Tianjin Hospital", Occupation and Health 41(6): 838-844, and reruns it on any CME
office's own platform exports.

Folders by the study's stages; a stage imports only the shared modules and the stages before it
(ingest < clean < analysis < published < report < run; ``tests/test_layout.py`` checks it)::

    lib/cmestudy/
      paths, fileio, defaults          shared: project paths, atomic writes and checksums, default settings
      schema (codebook.yml), problems  the raw-data contract; data problems with file, row, column, expectation
      i18n (messages/)                 languages: message catalogues, numbers written each language's way
      lockfile                         requirements.lock: every Python 3.11-3.13 and platform
      ingest/     read raw exports into canonical, de-identified tables
                  exports (the folder), reading, textfiles, spreadsheets, recognise (headers), privacy
                  (keyed hash), columnar, engines (Dask), storage
      clean/      code and check every row, set aside what cannot be used with its reason
                  cleaning (data/processed), review (steps, quarantine, unknown titles)
      analysis/   the statistics, returned as numbers in no language
                  describe, crosstab (chi-square family), pairwise, proportions (intervals, trend
                  tests), exact (Fisher) and exact_kernels, association (the study's tests), design
                  (Rao-Scott, GEE), trends, forecast (monthly models)
      published/  the paper's figures, their reproduction and what they pin down
                  paper, statcheck, reconstruct (the default data), consistency, pinned_search, pinned_sets
      report/     the numbers named in the reader's language, shown and assembled
                  notebook (what a cell calls: report.show, ...), tables, association_tables,
                  published_tables, pinned_tables, model_tables, narrative, findings, abstract, plotting,
                  fonts, textwidth, document (HTML, PDF), word and wordtables (Word), templates/
      run/        the cmestudy command and the run
                  cli, config, pipeline, kernels, cache, validation, inprocess, lab (JupyterLab hook)
"""

__version__ = "0.1.0"
