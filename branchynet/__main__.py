import sys

from branchynet.cli import main

sys.exit(main())
