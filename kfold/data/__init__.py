"""Data: sources and layouts, validation, preprocessing, the decoded cache, the generator."""
