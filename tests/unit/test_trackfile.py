"""The track JSON Lines format round-trips and names the file and line of a bad record."""

from __future__ import annotations

import io

import pytest

from avatar.errors import RigError
from avatar.expression.rig import Expression, FaceParams
from avatar.trackfile import TrackRecord, read_track, write_track


def test_round_trip_keeps_params_weights_and_extras(tmp_path):
    rec = TrackRecord(0.04, 1, True, FaceParams.from_dict({"jaw_open": 0.5}), {Expression.HAPPY: 1.0},
                      {"landmarks": [[0.1, 0.2, 0.0]]})
    buf = io.StringIO()
    assert write_track([rec, rec], buf) == 2
    path = tmp_path / "t.jsonl"
    path.write_text(buf.getvalue())
    back = list(read_track(path))
    assert len(back) == 2 and back[0].params["jaw_open"] == pytest.approx(0.5)
    assert back[0].expression == {Expression.HAPPY: 1.0} and back[0].extra["landmarks"] == [[0.1, 0.2, 0.0]]


@pytest.mark.parametrize(("line", "phrase"), [("{", "not valid JSON"), ('{"t": 0, "frame": 0}', "'face'"),
                                              ('{"t": 0, "frame": 0, "face": true, "params": {"x": 1}}', "x")])
def test_bad_lines_name_file_and_line(tmp_path, line, phrase):
    path = tmp_path / "t.jsonl"
    path.write_text('{"t": 0, "frame": 0, "face": false, "params": {}}\n' + line + "\n")
    with pytest.raises(RigError, match="line 2") as e:
        list(read_track(path))
    assert phrase in str(e.value)
