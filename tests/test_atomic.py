"""Atomic writes: all or nothing, with the permissions a plain write would give."""

import pytest

from kfold import atomic


def test_written_file_has_the_permissions_of_a_plain_write(tmp_path):
    atomic.write_text(tmp_path / "a.txt", "x")
    (tmp_path / "b.txt").write_text("x")
    mode = (tmp_path / "a.txt").stat().st_mode & 0o777
    assert mode == (tmp_path / "b.txt").stat().st_mode & 0o777  # not mkstemp's 0600


def test_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_a_target_kf_cannot_write_is_a_user_error_naming_why(tmp_path):
    from kfold.errors import KfError

    (tmp_path / "afile").write_text("x")
    with pytest.raises(KfError, match="afile is a file, not a folder"):
        atomic.write_text(tmp_path / "afile" / "out.csv", "a")
    with pytest.raises(KfError, match="it is a folder"):
        atomic.write_text(tmp_path, "a")
    assert (tmp_path / "afile").read_text() == "x"
