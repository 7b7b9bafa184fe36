"""python -m entra_setup"""
import sys

from entra_setup.command import main

sys.exit(main())
