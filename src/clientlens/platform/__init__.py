"""Pieces every context shares: private, atomic files (``files``) and exports
(``exports``); who may do what (``access``), who may see what (``field_policy``), API
tokens (``tokens``) and the HTTP guard in front of every request (``http_guard``);
idempotent writes (``idempotency``), the audit log (``audit``) and JSON-safe values
(``jsonsafe``). Services and faces import this package; it never imports a service or
a face.
"""
