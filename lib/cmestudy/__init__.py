"""cmestudy: evaluate continuing medical education (CME) programmes.

Reproduces Wei, Ye & Yu (2025), "Investigation and prospects analysis of the
implementation of continuing medical education programs via 'cloud live broadcast'
in Tianjin Hospital", Occupation and Health 41(6): 838-844, and reruns it on any CME
office's own platform exports.

Modules, one per concept:

* :mod:`cmestudy.paths`       -- project paths, anchored at the project root
* :mod:`cmestudy.fileio`      -- atomic writes, checksums, spreadsheet-safe CSV
* :mod:`cmestudy.problems`    -- data problems with file, row, column, value and expectation
* :mod:`cmestudy.schema`      -- the raw-data contract (codebook) and canonical tables
* :mod:`cmestudy.reading`     -- recognise and read raw exports into canonical tables
* :mod:`cmestudy.columnar`    -- encoded text columns and repeated pairs for large exports
* :mod:`cmestudy.privacy`     -- the keyed hash that links learners without identifying them
* :mod:`cmestudy.engines`     -- the Dask engine for exports beyond one machine
* :mod:`cmestudy.cleaning`    -- validate, normalise, quarantine, write ``data/processed``
* :mod:`cmestudy.describe`    -- descriptive tables
* :mod:`cmestudy.stats`       -- tests of association (chi-square family)
* :mod:`cmestudy.association` -- the study's tests of delivery mode by professional title
* :mod:`cmestudy.trends`      -- trends and projections
* :mod:`cmestudy.narrative`   -- sentences generated from the numbers
* :mod:`cmestudy.published`   -- published figures and their reproduction
* :mod:`cmestudy.reconstruct` -- the reconstructed default data set
* :mod:`cmestudy.plotting`    -- figures
* :mod:`cmestudy.i18n`        -- the report's languages: message catalogues, numbers written each language's way
* :mod:`cmestudy.fonts`       -- fonts that draw every character, from the project's own dependencies
* :mod:`cmestudy.tables`      -- tables labelled, formatted and laid out in three lines
* :mod:`cmestudy.report`      -- what a notebook shows: headings, tables, figures, sentences
* :mod:`cmestudy.document`    -- the report assembled from the notebooks: HTML and PDF
* :mod:`cmestudy.word`        -- the report as a Word document
* :mod:`cmestudy.cache`       -- fingerprints that let unchanged notebooks be skipped
* :mod:`cmestudy.pipeline`    -- run the notebooks with papermill
* :mod:`cmestudy.cli`         -- the ``cmestudy`` command
"""

__version__ = "0.1.0"
