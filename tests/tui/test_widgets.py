"""Pure rendering helpers of the widgets and screens (no app needed)."""

from __future__ import annotations

from audio.delivery import FILLER_RECALL_NOTE
from interviewer.tui.screens.feedback import delivery_text, score_line
from interviewer.tui.widgets.countdown import format_seconds
from interviewer.tui.widgets.key_points import render_key_points
from interviewer.tui.widgets.level_meter import level_to_fraction
from interviewer.tui.widgets.transcript import evidence_spans, highlighted
from questions.assessment import Assessment, Evidence, KeyPointResult, MisconceptionResult

ANSWER = "LoRA adds low rank matrices and people say it retrains every weight."


def _assessment() -> Assessment:
    start = ANSWER.index("low rank")
    wrong = ANSWER.index("retrains every weight")
    return Assessment(
        score=0.42,
        key_points=(
            KeyPointResult("Adds trainable low-rank matrices.", 1.0, "covered", 0.9,
                           Evidence("low rank matrices", start, start + 17)),
            KeyPointResult("The base weights stay frozen.", 1.0, "missed", 0.1),
        ),
        misconceptions=(
            MisconceptionResult("LoRA retrains all weights.", "Only the adapters train.", 0.15,
                                Evidence("retrains every weight", wrong, wrong + 21)),
        ),
    )


def test_level_meter_reads_dbfs_and_linear_levels():
    assert level_to_fraction(0.0) == 0.0
    assert level_to_fraction(1.0) == 1.0
    assert level_to_fraction(-60.0) == 0.0 and level_to_fraction(-120.0) == 0.0
    assert abs(level_to_fraction(-30.0) - 0.5) < 1e-9
    assert abs(level_to_fraction(10 ** (-30 / 20)) - 0.5) < 1e-9  # linear 0.0316 = -30 dBFS


def test_evidence_is_highlighted_where_the_matcher_found_it():
    a = _assessment()
    spans = evidence_spans(a)
    assert [(ANSWER[s:e], style) for s, e, style in spans] == [
        ("low rank matrices", "bold black on green"),
        ("retrains every weight", "bold white on red"),
    ]
    text = highlighted(ANSWER, spans)
    assert text.plain == ANSWER and len(text.spans) == 2


def test_key_points_show_evidence_misses_and_corrections():
    out = render_key_points(_assessment()).plain
    assert '✔ Adds trainable low-rank matrices.  — "low rank matrices"' in out
    assert "✘ The base weights stay frozen.  (missed)" in out
    assert "! LoRA retrains all weights." in out and "Correction: Only the adapters train." in out


def test_score_line_and_no_speech():
    assert score_line(_assessment()).plain.startswith("42/100  ·  1 of 2 key points covered")
    assert "No speech" in score_line(Assessment(score=None, no_speech=True)).plain


def test_delivery_line_with_the_filler_caveat():
    d = {"wpm": 142.4, "pace": "good", "fillers": [["um", 2], ["like", 1]], "filler_count": 3,
         "long_pauses": [[1.0, 2.5]], "notes": []}
    text = delivery_text(d, typed=False).plain
    assert text.splitlines()[0] == "pace 142 words/min (good) · fillers 3 (um ×2, like ×1) · long pauses 1"
    assert FILLER_RECALL_NOTE in text
    assert "Typed answer" in delivery_text(d, typed=True).plain


def test_time_format():
    assert [format_seconds(s) for s in (0, 9.6, 45, 61, 600)] == ["0:00", "0:10", "0:45", "1:01", "10:00"]


def test_delivery_text_says_each_figure_once():
    from audio.delivery import assess_delivery

    text = "Um, so the cache keeps keys and values, um, for every token it has seen so far."
    d = assess_delivery(text, speech=[(6.0, 9.0), (10.5, 12.0)]).to_dict()
    shown = delivery_text(d, typed=False).plain
    assert shown.splitlines()[0] == "speaking 6.0 s · first word after 6.0 s"
    assert shown.count("wpm") + shown.count("words/min") == 1
    assert shown.count("filler word") == 1 and shown.count("(longest") == 1
    assert "before your first word" in shown
