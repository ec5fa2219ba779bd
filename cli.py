"""Run the pyross command line from a checkout: ``python cli.py fit m2 --alpha 0.5``."""
from pyross.cli import main

if __name__ == "__main__":
    main()
