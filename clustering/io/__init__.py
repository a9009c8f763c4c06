"""Input and output: read files and databases, validate tables, push features down, write results back."""
