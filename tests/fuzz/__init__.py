"""Property-based fuzzing of every input file mcmsim reads (issue 17, item 6)."""
