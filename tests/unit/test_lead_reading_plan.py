"""How a full lead read is planned: id density, segments of one request each, chains at once."""

from __future__ import annotations

import itertools

import pytest

from bot.portal.reading import (
    DEFAULT_CHAINS,
    LEADS_PER_REQUEST,
    chains_at_once,
    density_of,
    plan_segments,
)


def test_density_counts_leads_over_the_ids_both_pages_covered() -> None:
    # 50 leads over ids 1-100 and 50 over ids 951-1000.
    assert density_of([(0, 100, 50), (950, 1000, 50)]) == pytest.approx(100 / 150)
    assert density_of([]) == 0.0
    assert density_of([(10, 10, 0)]) == 0.0


def test_contiguous_ids_are_cut_into_full_requests() -> None:
    segments = plan_segments(50, 100_000 - 50, 1.0)
    assert len(segments) == 40
    assert segments[0][0] == 50
    assert segments[-1][1] == 100_000 - 50
    # Each segment starts where the previous one ended, and none holds more than a request.
    assert all(a[1] == b[0] for a, b in itertools.pairwise(segments))
    assert all(upto - after <= LEADS_PER_REQUEST for after, upto in segments)


def test_sparse_ids_make_wider_segments() -> None:
    # One lead in ten: 25,000 ids hold one request's worth.
    segments = plan_segments(0, 50_000, 0.1)
    assert segments == [(0, 25_000), (25_000, 50_000)]


def test_an_empty_or_thin_range_is_one_segment_or_none() -> None:
    assert plan_segments(100, 100, 1.0) == []
    assert plan_segments(100, 130, 1.0) == [(100, 130)]
    assert plan_segments(100, 130, 0.0) == [(100, 130)]


def test_chains_follow_the_limiters_room_but_never_drop_below_the_default() -> None:
    assert chains_at_once(40, room=49) == 40
    assert chains_at_once(60, room=49) == 49
    # A full bucket: the default number still keeps a slow portal busy, paced by the limiter.
    assert chains_at_once(40, room=0) == DEFAULT_CHAINS
    assert chains_at_once(40, room=None) == DEFAULT_CHAINS
    assert chains_at_once(3, room=49) == 3


def test_a_cap_bounds_the_chains() -> None:
    assert chains_at_once(40, room=49, cap=4) == 4
    assert chains_at_once(40, room=0, cap=2) == 2
    assert chains_at_once(40, room=49, cap=0) == 1
