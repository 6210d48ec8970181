"""End-to-end tests: the product's own processes on real servers."""
