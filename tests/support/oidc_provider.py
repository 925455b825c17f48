"""A small OpenID Connect provider for the console's sign-in tests: discovery, an
authorization endpoint that signs in whichever user the test set, a token endpoint
that checks the client's secret, the code and its PKCE verifier, and published keys.
ID tokens are signed RS256 with a key made for the test (joserfc). ``misbehave``
makes it issue a wrong nonce, audience or signature, to see them refused."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

CLIENT_ID, CLIENT_SECRET = "clientlens-console", "s3cret-for-tests"


class Provider:
    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig",
                                                         "alg": "RS256"})
        self.other = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig",
                                                           "alg": "RS256"})
        self.issuer = ""
        self.user: dict[str, Any] = {"sub": "u-1", "preferred_username": "petrova",
                                     "roles": ["crm-analysts"]}
        self.misbehave: str | None = None  # nonce, audience, signature
        self.codes: dict[str, dict[str, Any]] = {}
        self.app = self._app()

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        async def discovery() -> dict:
            return {"issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                    "token_endpoint": f"{self.issuer}/token",
                    "jwks_uri": f"{self.issuer}/jwks", "response_types_supported": ["code"],
                    "id_token_signing_alg_values_supported": ["RS256"]}

        @app.get("/jwks")
        async def jwks() -> dict:
            return KeySet([self.key]).as_dict(private=False)

        @app.get("/authorize")
        async def authorize(request: Request) -> RedirectResponse:
            q = request.query_params
            if q.get("client_id") != CLIENT_ID or q.get("code_challenge_method") != "S256":
                raise HTTPException(400, "bad request")
            code = secrets.token_urlsafe(16)
            self.codes[code] = {"nonce": q["nonce"], "challenge": q["code_challenge"],
                                "redirect_uri": q["redirect_uri"], "user": dict(self.user)}
            return RedirectResponse(f"{q['redirect_uri']}?" + urlencode(
                {"code": code, "state": q["state"]}), status_code=302)

        @app.post("/token")
        async def token(request: Request, code: str = Form(), code_verifier: str = Form(),
                        redirect_uri: str = Form(), grant_type: str = Form()) -> JSONResponse:
            auth = request.headers.get("authorization", "")
            expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if auth != f"Basic {expected}":
                return JSONResponse({"error": "invalid_client"}, 401)
            found = self.codes.pop(code, None)
            challenge = base64.urlsafe_b64encode(hashlib.sha256(
                code_verifier.encode()).digest()).rstrip(b"=").decode()
            if (found is None or grant_type != "authorization_code"
                    or found["challenge"] != challenge or found["redirect_uri"] != redirect_uri):
                return JSONResponse({"error": "invalid_grant"}, 400)
            now = int(time.time())
            claims = {"iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                      "nonce": found["nonce"], **found["user"]}
            if self.misbehave == "nonce":
                claims["nonce"] = "another"
            if self.misbehave == "audience":
                claims["aud"] = "another-client"
            key = self.other if self.misbehave == "signature" else self.key
            id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, KeySet([key]))
            return JSONResponse({"access_token": "at", "token_type": "Bearer",
                                 "id_token": id_token})

        return app
