from geometry.report import fence_length
from geometry.shapes import Rectangle


def test_hidden_perimeters():
    assert Rectangle(1, 1).perimeter() == 4
    assert Rectangle(0.5, 2).perimeter() == 5
    assert fence_length([Rectangle(10, 1)]) == 22
