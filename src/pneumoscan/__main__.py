"""`python -m pneumoscan ...` (what `torchrun -m pneumoscan train ...` runs)."""

from pneumoscan.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
