"""`python -m pipeline` runs the crosscheck command line."""

from pipeline.cli import main

raise SystemExit(main())
