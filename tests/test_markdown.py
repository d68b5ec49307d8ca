"""history/markdown.py: the CI summary of a comparison, and its budget (GitHub refuses a comment over 65,536
characters)."""

from __future__ import annotations

from synthetic import comparison as big

from tfmatrix.history import markdown


def rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| combo-")]


def test_a_summary_within_the_budget_has_every_row_in_order():
    cmp = big(40)
    text = markdown.render_markdown(cmp)
    assert len(rows(text)) == 40 + 4 and "left out" not in text and "combo-quiet" not in text  # unchanged: not shown
    assert [r.split(" | ")[0] for r in rows(text)][4:] == [f"| combo-{i:05d}" for i in range(40)]


def test_a_summary_over_the_budget_keeps_regressions_first_and_says_how_many_it_left_out():
    cmp = big(2000, warnings=500, only=3000)
    full = markdown.render_markdown(cmp, budget=10 ** 9)
    assert len(full) > markdown.BUDGET  # the case: too long for a CI comment
    text = markdown.render_markdown(cmp)
    assert len(text) <= markdown.BUDGET
    shown = rows(text)
    regressions = [r for r in shown if "**regression**" in r]
    assert len(regressions) == 500 + 100  # all of them: metrics and outcomes
    assert any("**improvement**" in r for r in shown)  # then as many improvements as fit
    assert not any("not-significant" in r or "within-noise" in r for r in shown)  # the least important went first
    left = len(rows(full)) - len(shown)
    assert left > 0 and f"- {left} more row(s) left out" in text
    assert "the JSON beside the comparison's HTML page has every one" in text
    assert "… and 480 more (each was printed on stderr)" in text and text.count("- warning: ") == 21
    assert "- only in base: gone-00000, " in text and " more" in text.split("- only in base: ")[1].splitlines()[0]
    assert text.rstrip().endswith(cmp.noise_line) and text.startswith("## tfmatrix compare: regressed")


def test_kept_rows_stay_in_their_order_within_each_table():
    text = markdown.render_markdown(big(4000))
    ids = [r.split(" | ")[0] for r in rows(text) if " | m | load | " in r]
    assert ids == sorted(ids) and len(ids) > 100


def test_rows_formatted_only_while_they_may_fit_give_the_same_summary(monkeypatch):
    """Past BUDGET / MIN_ROW rows the full summary is never formatted; what it gives must not change."""
    cmps = [big(4000, warnings=30, only=500), big(50, warnings=30)]  # over the budget; within it, 30 warnings
    lazy = [markdown.render_markdown(c) for c in cmps]
    assert lazy[1].count("- warning: ") == 30  # within the budget: every warning, none clipped
    monkeypatch.setattr(markdown, "MIN_ROW", 0)  # always format every row first, as before
    assert [markdown.render_markdown(c) for c in cmps] == lazy
    monkeypatch.setattr(markdown, "MIN_ROW", 10 ** 6)  # a bound too high would clip a summary that fits
    assert markdown.render_markdown(cmps[1]) != lazy[1]
