"""What a visitor sees: the landing page, languages, the board, the programme."""
