"""The truth file format: round trip, case-insensitive names, one-sentence errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.verify.truth import (
    Crossing,
    OccupancySample,
    TruthError,
    read_crossings,
    read_occupancy,
    write_crossings,
    write_occupancy,
)


def test_round_trip(tmp_path: Path) -> None:
    crossings = [Crossing(2.5, "door", "out"), Crossing(1.25, "door", "in")]
    write_crossings(tmp_path / "c.csv", crossings)
    assert read_crossings(tmp_path / "c.csv", ["door"]) == sorted(crossings)
    samples = [OccupancySample(1.0, "room", 3), OccupancySample(0.0, "room", 0)]
    write_occupancy(tmp_path / "o.csv", samples)
    assert read_occupancy(tmp_path / "o.csv", ["room"]) == sorted(samples)


def test_names_are_case_insensitive_and_take_the_configs_spelling(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("# a comment\ntime_s,line,direction\n1.0,ENTRANCE,IN\n\n2,Entrance,out\n")
    assert read_crossings(path, ["entrance"]) == [
        Crossing(1.0, "entrance", "in"),
        Crossing(2.0, "entrance", "out"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("t,line,direction\n1,door,in\n", "must start with the header row time_s,line,direction"),
        (
            "time_s,line,direction\n1,door,sideways\n",
            "row 2: direction 'sideways' must be in or out",
        ),
        ("time_s,line,direction\n-1,door,in\n", "row 2: time_s '-1' must be seconds >= 0"),
        ("time_s,line,direction\nsoon,door,in\n", "row 2: time_s 'soon' must be seconds >= 0"),
        (
            "time_s,line,direction\n1,window,in\n",
            "row 2: unknown line 'window'; the config has door",
        ),
        ("time_s,line,direction\n1,door\n", "row 2: expected 3 columns"),
        ("", "must start with the header row"),
    ],
)
def test_bad_crossings_files_say_what_to_fix(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(TruthError, match=message.replace("(", r"\(")) as info:
        read_crossings(path, ["door"])
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_bad_occupancy_count(tmp_path: Path) -> None:
    path = tmp_path / "occ.csv"
    path.write_text("time_s,zone,count\n1,room,2.5\n")
    with pytest.raises(TruthError, match=r"row 2: count '2.5' must be a whole number >= 0"):
        read_occupancy(path, ["room"])


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TruthError, match="cannot be read"):
        read_crossings(tmp_path / "absent.csv")
