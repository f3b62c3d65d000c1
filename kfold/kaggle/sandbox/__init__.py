"""The local stand-in for Kaggle: `kf sandbox serve`.

An HTTP server on 127.0.0.1 that speaks the subset of the Kaggle API the real `kaggle`
client uses for a competition loop, in the request/response shapes of `kagglesdk`:

- every call is `POST {base}/api/v1/{service}/{method}` with a JSON body whose keys are the
  camelCase field names of the kagglesdk request type; errors are JSON `{"code", "message"}`
  with the same HTTP status (what `KaggleHttpClient._prepare_response` raises on);
- a submission is three requests, as on Kaggle: `StartSubmissionUpload` returns a blob
  `token` and a `createUrl`; the client PUTs the file bytes to that URL; `CreateSubmission`
  names the token and gets back a `ref`;
- `DownloadDataFiles` answers with a redirect to a zip of the competition data (never the
  solution file);
- `security.OAuthService/IntrospectToken` accepts any bearer token, so access-token auth works.

Three parts: `state` (what the competition holds, scoring, the leaderboard), `api` (a table
from API method name to handler, HTTP-free) and `http` (the server and its request handler,
plus injected failures for tests).
"""

from kfold.kaggle.sandbox.http import SandboxServer
from kfold.kaggle.sandbox.state import SANDBOX_USER, SandboxState, Submission

__all__ = ["SANDBOX_USER", "SandboxServer", "SandboxState", "Submission"]
