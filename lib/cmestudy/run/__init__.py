"""Run: the ``cmestudy`` command, the notebooks executed in order, the cache that skips what has not changed."""
