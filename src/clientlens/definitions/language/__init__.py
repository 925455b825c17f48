"""The rule language's meaning, written once: types, the semantics table, the Python runtime."""
