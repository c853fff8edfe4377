"""`python -m appliance` is the `espace` command."""

from .cli import main

main()
