import sys

from venue.cli import main

sys.exit(main())
