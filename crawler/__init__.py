"""Fetching and parsing: Scrapy settings and spiders, pure extraction, URL canonicalization."""
