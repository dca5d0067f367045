import math

from geometry.report import describe, fence_length, total_area
from geometry.shapes import Circle, Rectangle


def test_rectangle_area():
    assert Rectangle(3, 4).area() == 12


def test_rectangle_perimeter():
    assert Rectangle(3, 4).perimeter() == 14


def test_circle():
    assert math.isclose(Circle(1).perimeter(), 2 * math.pi)


def test_total_area():
    assert total_area([Rectangle(1, 2), Rectangle(2, 2)]) == 6


def test_fence_length():
    assert fence_length([Rectangle(1, 1), Rectangle(2, 3)]) == 14


def test_describe():
    assert describe(Rectangle(2, 2)) == "rectangle with area 4.00"
