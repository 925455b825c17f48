"""Helpers the tests share: services (PostgreSQL, Spark, workspaces on every engine),
the command line as a user runs it, generated definitions for the field policy."""
