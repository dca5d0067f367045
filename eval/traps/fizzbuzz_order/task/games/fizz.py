def label(n: int) -> str:
    """"FizzBuzz" for multiples of 15, "Fizz" for other multiples of 3, "Buzz" for other multiples of 5,
    else the number."""
    if n % 3 == 0:
        return "Fizz"
    if n % 5 == 0:
        return "Buzz"
    if n % 15 == 0:
        return "FizzBuzz"
    return str(n)
