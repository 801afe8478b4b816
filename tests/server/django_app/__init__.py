"""A one-view Django project for the chunked-upload regression test (Django is a test-only dependency)."""
