"""`python -m explorer …`: main.py assembles the parser from one module per group of commands."""
