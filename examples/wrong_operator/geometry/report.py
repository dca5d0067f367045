"""Summaries over collections of shapes."""
from .shapes import Circle, Rectangle


def total_area(shapes) -> float:
    return sum(s.area() for s in shapes)


def fence_length(shapes) -> float:
    """Length of fence needed to enclose every shape separately."""
    return sum(s.perimeter() for s in shapes)


def describe(shape) -> str:
    kind = type(shape).__name__.lower()
    return f"{kind} with area {shape.area():.2f}"


__all__ = ["Circle", "Rectangle", "total_area", "fence_length", "describe"]
