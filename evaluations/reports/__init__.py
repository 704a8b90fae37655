"""Reports built from what the reader may see (issue 11): exports and the exercise report."""
