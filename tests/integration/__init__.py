"""End-to-end tests: recipes as commands and in process, on mock and real data."""
