import sys

from fashionvision.cli import main

sys.exit(main())
