"""Crawling: walking storage, deciding what the datasets are, and their metadata inventory."""
