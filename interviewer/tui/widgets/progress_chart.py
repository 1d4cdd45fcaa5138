"""Scores per topic and over time, drawn with plotext."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from textual_plotext import PlotextPlot

from interviewer.tui.queries import ScorePoint


def daily_means(points: Iterable[ScorePoint]) -> list[tuple[str, float]]:
    by_day: dict[str, list[float]] = defaultdict(list)
    for p in points:
        by_day[p.day].append(p.percent)
    return [(d, sum(v) / len(v)) for d, v in sorted(by_day.items())]


def topic_means(points: Iterable[ScorePoint]) -> list[tuple[str, float]]:
    by_topic: dict[str, list[float]] = defaultdict(list)
    for p in points:
        by_topic[p.topic].append(p.percent)
    return [(t, sum(v) / len(v)) for t, v in sorted(by_topic.items())]


class ProgressChart(PlotextPlot):
    """``kind`` "time": mean score per day; "topic": mean score per topic."""

    DEFAULT_CSS = """
    ProgressChart { height: 1fr; min-height: 8; }
    """

    def __init__(self, kind: str = "time", **kwargs) -> None:
        super().__init__(**kwargs)
        self.kind = kind
        self._points: list[ScorePoint] = []

    def show(self, points: Iterable[ScorePoint]) -> None:
        self._points = list(points)
        self._draw()
        self.refresh()

    def on_mount(self) -> None:
        self._draw()

    def _draw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.ylim(0, 100)
        if self.kind == "topic":
            rows = topic_means(self._points)
            plt.title("Mean score per topic")
            if rows:
                plt.bar([t for t, _ in rows], [round(v) for _, v in rows])
        else:
            rows = daily_means(self._points)
            plt.title("Mean score per day")
            if rows:
                plt.plot(list(range(1, len(rows) + 1)), [v for _, v in rows], marker="●")
                plt.xticks(list(range(1, len(rows) + 1)), [d[5:] for d, _ in rows])
