"""`demo_summary`: the demo says what its run stored and sent, never a fixed sentence."""

from __future__ import annotations

from typing import Any

import pytest

from scheduler.demo import demo_summary


def _story(story_id: int, title: str, copies: int = 1) -> dict[str, Any]:
    return {
        "id": story_id,
        "title": title,
        "urls": [f"http://x/{story_id}/{n}" for n in range(copies)],
    }


def _alert(story_id: int, status: str = "delivered") -> dict[str, Any]:
    return {"story_id": story_id, "status": status}


CASES = [
    pytest.param(
        6,
        [_story(1, "Drills", 2), _story(2, "Rally"), _story(3, "Учения"), _story(4, "Quake")],
        [_alert(1), _alert(2), _alert(3)],
        [
            "Done: the demo feed listed 6 articles; 5 kept as 4 stories (1 story with 2 copies),"
            " 1 not kept (off topic or unreadable).",
            "3 alerts printed above.",
            "Let pass (no rule matched): Quake.",
        ],
        id="the usual run",
    ),
    pytest.param(
        6,
        [],
        [],
        [
            "Done: the demo feed listed 6 articles; 0 kept as 0 stories, 6 not kept "
            "(off topic or unreadable).",
            "0 alerts printed above.",
        ],
        id="nothing could be read",
    ),
    pytest.param(
        2,
        [_story(1, "Drills"), _story(2, "Rally")],
        [_alert(1), _alert(2, "pending"), _alert(2, "dead")],
        [
            "Done: the demo feed listed 2 articles; 2 kept as 2 stories.",
            "1 alert printed above; 1 still pending; 1 could not be delivered.",
        ],
        id="delivery trouble is told",
    ),
    pytest.param(
        1,
        [_story(1, "Drills")],
        [],
        [
            "Done: the demo feed listed 1 article; 1 kept as 1 story.",
            "0 alerts printed above.",
            "Let pass (no rule matched): Drills.",
        ],
        id="singular",
    ),
]


@pytest.mark.parametrize(("listed", "stories", "alerts", "expected"), CASES)
def test_demo_summary_counts_what_happened(
    listed: int, stories: list[dict[str, Any]], alerts: list[dict[str, Any]], expected: list[str]
) -> None:
    assert demo_summary(listed, stories, alerts) == expected
