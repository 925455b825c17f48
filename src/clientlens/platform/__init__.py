"""Pieces every face shares: who may do what (``access``), who may see what
(``field_policy``), API tokens (``tokens``) and the HTTP guard in front of every
request (``http_guard``). Faces import this package; it never imports a face.
"""
