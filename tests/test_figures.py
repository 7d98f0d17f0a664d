"""Every figure of the report, in both languages: labels that never run into each other, and nothing
drawn outside the figure (an A4 page shows all of it)."""

from __future__ import annotations

import itertools
from functools import lru_cache

import pytest

from cmestudy import i18n

from .conftest import RAW
from .exports import DISCIPLINES_ZH


@lru_cache(maxsize=1)
def _study():
    from cmestudy.clean import cleaning
    from cmestudy.ingest import exports

    cleaned = cleaning.clean(exports.read_raw_dir(RAW, key=b"figures test"))
    projects = cleaned.projects.copy()
    projects["discipline"] = projects["discipline"].map(DISCIPLINES_ZH).astype("string")  # Chinese names, as real data
    learners = cleaned.learners.merge(projects[["project_id"]], on="project_id")
    learners["discipline"] = learners["project_id"].map(projects.set_index("project_id")["discipline"])
    return projects, learners


def all_figures():
    """(name, figure) for every figure the notebooks draw, from the default data with Chinese disciplines."""
    from cmestudy.analysis import association, describe, forecast, trends
    from cmestudy.report import plotting

    projects, learners = _study()
    years = [2021, 2022, 2023]
    models = trends.count_trends(projects, learners, years)
    monthly = forecast.monthly_models(projects, learners, years)
    shift = trends.discipline_shift(projects, years)
    return [
        ("projects_by_level", plotting.projects_by_level(describe.projects_by_year_level_mode(projects, years))),
        ("discipline_heatmap", plotting.discipline_heatmap(describe.disciplines_by_year_mode(projects, years))),
        ("disciplines_per_year", plotting.disciplines_per_year(describe.disciplines_per_year_mode(projects, years))),
        ("title_mix", plotting.title_mix(describe.learners_by_title(learners, years))),
        ("live_share_by_title", plotting.live_share_by_title(association.live_share(learners, years))),
        ("fan_learners", plotting.fan_chart(models, [n for n in models if n.endswith("learners")], "axis.learners")),
        ("fan_projects", plotting.fan_chart(models, [n for n in models if n.endswith("projects")], "axis.projects")),
        ("monthly_series", plotting.monthly_series(monthly)),
        (
            "monthly_fan_learners",
            plotting.monthly_fan_chart(monthly, ["live_learners", "face_to_face_learners"], "axis.learners"),
        ),
        (
            "monthly_fan_projects",
            plotting.monthly_fan_chart(monthly, ["live_projects", "face_to_face_projects"], "axis.projects"),
        ),
        ("discipline_live_heatmap", plotting.discipline_live_heatmap(shift)),
        ("live_title_mix", plotting.live_title_mix(trends.live_title_mix(learners, years))),
    ]


def _boxes(fig):
    """Window extents of the tick labels of each axis, and of every text of the figure."""
    from matplotlib.text import Text

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ticks, all_tick_labels = [], set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            span = (hi - lo) * 1e-9
            labels = [tick.label1 for tick in axis.get_major_ticks()]
            all_tick_labels |= {id(t) for tick in axis.get_major_ticks() for t in (tick.label1, tick.label2)}
            drawn = [
                t
                for t, loc in zip(labels, axis.get_majorticklocs())
                if t.get_visible() and t.get_text() and lo - span <= loc <= hi + span
            ]
            ticks.append([(t.get_text(), t.get_window_extent(renderer)) for t in drawn])
    texts = [
        (t.get_text(), t.get_window_extent(renderer))
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text() and id(t) not in all_tick_labels
    ]
    return ticks, texts + [pair for labels in ticks for pair in labels]


@pytest.mark.parametrize("lang", sorted(i18n.LANGUAGES))
def test_figure_labels_never_overlap_and_stay_on_the_page(lang):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    i18n.set_language(lang)
    try:
        for name, fig in all_figures():
            ticks, texts = _boxes(fig)
            for labels in ticks:
                for (a, box_a), (b, box_b) in itertools.combinations(labels, 2):
                    assert not box_a.overlaps(box_b), f"{lang} {name}: tick labels {a!r} and {b!r} overlap"
            width, height = fig.canvas.get_width_height()
            for text, box in texts:
                assert box.x0 >= -1 and box.y0 >= -1 and box.x1 <= width + 1 and box.y1 <= height + 1, (
                    f"{lang} {name}: {text!r} is drawn outside the figure"
                )
            plt.close(fig)
    finally:
        i18n.set_language("en")
