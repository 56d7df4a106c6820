"""The `kurilwatch` command line, the daemon and its jobs."""
