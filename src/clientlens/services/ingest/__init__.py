"""Bank exports into the warehouse: reading any encoding and dialect (``reader``),
checking headers and rows (``checks``), importing with quarantine (``importer``),
and the application database's operational records (``operational``).
"""
