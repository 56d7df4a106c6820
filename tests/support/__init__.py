"""Test helpers: fixture stories, a local news site and a local webhook receiver."""
