"""Dialogs fit a small terminal: a question longer than the dialog wraps
instead of being cut off (seen at 110 columns: "... is graded and k")."""

from __future__ import annotations

import asyncio

import pytest
from textual.app import App
from textual.widgets import Label

from interviewer.tui.screens.dialogs import ConfirmDialog

QUESTION = "End this session? What you said so far is graded and kept."


class _Host(App[None]):
    CSS_PATH = "../../interviewer/tui/app.tcss"


@pytest.mark.parametrize("size", [(80, 24), (110, 36)])
def test_a_long_confirm_question_wraps_inside_the_dialog(size: tuple[int, int]) -> None:
    async def scenario() -> None:
        app = _Host()
        async with app.run_test(size=size) as pilot:
            app.push_screen(ConfirmDialog(QUESTION))
            await pilot.pause()
            label = app.screen.query_one(Label)
            box = label.parent
            assert box is not None
            assert label.region.width <= box.content_region.width
            assert label.region.right <= box.content_region.right
            lines = [str(line.text).strip() for line in label.render_lines(label.region.reset_offset)]
            assert " ".join(w for line in lines for w in line.split()) == QUESTION, lines

    asyncio.run(scenario())
