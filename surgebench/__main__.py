"""``python -m surgebench`` is the ``surgebench`` console script."""

from surgebench.cli import main

if __name__ == "__main__":
    main()
