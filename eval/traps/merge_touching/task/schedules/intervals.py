def merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge overlapping intervals, given as (start, end) with end inclusive; intervals that touch (one
    starts where another ends) merge too, but neighbours with a gap between them, like (1, 2) and
    (3, 4), do not. The result is sorted."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if out and start < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out
