"""The contact policy: consents, preferences, pressure caps, quiet hours, the contact log."""
