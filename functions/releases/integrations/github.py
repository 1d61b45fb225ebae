"""GitHub's REST API, synchronously: gidgethub's sans-I/O layer (request headers, response decoding,
errors and rate limits, paging links, URI templates) over urllib3. Any base URL: github.com's
``https://api.github.com``, a GitHub Enterprise Server's ``https://HOST/api/v3``, or the local GitHub.

Tokens pass through here and nowhere else: never logged, never in an answer or an exception's text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, Final

import urllib3
from gidgethub import BadRequest, GitHubBroken, HTTPException, RateLimitExceeded, sansio

from functions.releases.exceptions import InstallRefused, ServiceUnavailable
from functions.releases.logic.ports import AppSecret

REQUESTER: Final = "stackpilot"
_TIMEOUT: Final = urllib3.Timeout(connect=3.0, read=8.0)
_MAX_PAGES: Final = 10  # 1,000 installations a user can see is past any real account


class GitHubRest:
    def __init__(self, api_url: str, http: urllib3.PoolManager | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self._http = http or urllib3.PoolManager(retries=False)

    def call(
        self,
        method: str,
        path: str,
        *,
        url_vars: Mapping[str, Any] | None = None,
        token: str | None = None,
        body: Any = None,
    ) -> tuple[Any, str | None]:
        """One call; returns the decoded body and the next page's URL. GitHub's refusals come back
        as gidgethub's exceptions (``BadRequest`` 4xx, ``RateLimitExceeded``, ``GitHubBroken`` 5xx)."""
        url = sansio.format_url(path, url_vars or {}, base_url=self.api_url)
        return self._send(method, url, token, body)

    def pages(self, path: str, *, token: str | None = None, limit: int = _MAX_PAGES) -> Iterator[Any]:
        url: str | None = sansio.format_url(path, {}, base_url=self.api_url)
        for _ in range(limit):
            if url is None:
                return
            data, url = self._send("GET", url, token, None)
            yield data

    def _send(self, method: str, url: str, token: str | None, body: Any) -> tuple[Any, str | None]:
        headers = sansio.create_headers(REQUESTER, oauth_token=token)
        payload = None
        if body is not None:
            headers["content-type"] = "application/json"
            payload = json.dumps(body).encode()
        try:
            answer = self._http.request(
                method, url, headers=headers, body=payload, timeout=_TIMEOUT, redirect=False
            )
        except urllib3.exceptions.HTTPError as exc:
            raise ServiceUnavailable("GitHub could not be reached", detail=type(exc).__name__) from exc
        response_headers = {k.lower(): v for k, v in answer.headers.items()}
        data, _rate, next_url = sansio.decipher_response(answer.status, response_headers, answer.data)
        return data, next_url


class OAuthGitHubUser:
    """The install flow's one user call: exchange the code, list that user's installations of the App.

    The code goes to the web host (``login/oauth/access_token``), the listing to the REST API."""

    def __init__(
        self, web_url: str, rest: GitHubRest, client_id: str, client_secret: AppSecret, http: Any = None
    ) -> None:
        self._web_url = web_url.rstrip("/")
        self._rest = rest
        self._client_id = client_id
        self._client_secret = client_secret
        self._http = http or urllib3.PoolManager(retries=False)

    def installations(self, code: str) -> dict[int, str]:
        token = self._exchange(code)
        found: dict[int, str] = {}
        try:
            for page in self._rest.pages("/user/installations?per_page=100", token=token):
                for installation in (page or {}).get("installations", []):
                    found[int(installation["id"])] = str(installation["account"]["login"])
        except RateLimitExceeded as exc:
            raise ServiceUnavailable("GitHub is rate-limiting us: try shortly", detail=str(exc)) from exc
        except BadRequest as exc:
            raise InstallRefused("GitHub refused to list your installations: start again") from exc
        except (GitHubBroken, HTTPException) as exc:
            raise ServiceUnavailable("GitHub is not answering right now", detail=str(exc)) from exc
        return found

    def _exchange(self, code: str) -> str:
        secret = self._client_secret.value()
        if not self._client_id or not secret:
            raise ServiceUnavailable("linking GitHub is not configured yet (the App's client credentials)")
        fields = {"client_id": self._client_id, "client_secret": secret.decode(), "code": code}
        try:
            answer = self._http.request(
                "POST",
                f"{self._web_url}/login/oauth/access_token",
                headers={"accept": "application/json", "content-type": "application/json"},
                body=json.dumps(fields).encode(),
                timeout=_TIMEOUT,
                redirect=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise ServiceUnavailable("GitHub could not be reached", detail=type(exc).__name__) from exc
        if answer.status >= 500:
            raise ServiceUnavailable("GitHub is not answering right now", detail=f"HTTP {answer.status}")
        try:
            data = json.loads(answer.data or b"{}")
        except ValueError as exc:
            raise ServiceUnavailable("GitHub answered the code exchange oddly", detail="not JSON") from exc
        token = data.get("access_token") if isinstance(data, dict) else None
        if isinstance(token, str) and token:
            return token
        error = data.get("error") if isinstance(data, dict) else None
        if error == "incorrect_client_credentials":  # ours, not the user's: the operator must fix it
            raise ServiceUnavailable("linking GitHub is misconfigured", detail="incorrect_client_credentials")
        raise InstallRefused("GitHub did not accept the authorization: start again")
