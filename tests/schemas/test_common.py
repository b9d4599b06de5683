from schemas.common import error_cause


def test_error_causes_group_messages_that_differ_only_in_specifics():
    first = error_cause("video 'v_abc' not found under /data/anet with any of ('.mp4',)")
    second = error_cause("video 'v_xyz' not found under /mnt/other with any of ('.mp4',)")
    assert first == second and "not found" in first
    assert error_cause("segment [10.0, 12.0] past the end (3.0 s)") == "segment [N, N] past the end (N s)"
