"""The stand-in's API methods: a table from kagglesdk method name to handler.

A handler takes the state and one `Call` (the JSON body, the authenticated user, the server's
base URL) and returns a `Reply` (HTTP status and JSON payload, camelCase as kagglesdk reads it).
Nothing here knows about sockets; `http` does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from kfold.kaggle.sandbox.code_api import CODE_HANDLERS
from kfold.kaggle.sandbox.protocol import Call, Reply, error
from kfold.kaggle.sandbox.state import SANDBOX_USER, LimitReached, SandboxState, Submission

__all__ = ["Call", "Reply", "dispatch", "error"]


def iso(dt: datetime) -> str:
    """kagglesdk's DateTimeSerializer format: naive UTC, milliseconds, trailing Z."""
    return dt.isoformat(timespec="milliseconds") + "Z"


def submission_json(state: SandboxState, sub: Submission) -> dict:
    """An `ApiSubmission` (scored first if its delay has passed)."""
    state.refresh(sub)
    out = {
        "ref": sub.ref, "totalBytes": len(sub.content), "date": iso(sub.date),
        "description": sub.description, "fileName": sub.file_name, "status": sub.status,
        "submittedBy": sub.team, "teamName": sub.team,
        "url": f"/competitions/{state.competition}/submissions#{sub.ref}",
    }
    if sub.status == "COMPLETE":
        out["publicScore"] = f"{sub.public:.5f}"
        if state.reveal_private:
            out["privateScore"] = f"{sub.private:.5f}"
    if sub.error:
        out["errorDescription"] = sub.error
    return out


def _page(rows: list, body: dict) -> tuple[list, str]:
    """Kaggle's paging: `pageToken` is an offset here, "" when there is no next page."""
    size = int(body.get("pageSize") or 20)
    start = int(body.get("pageToken") or 0)
    nxt = str(start + size) if start + size < len(rows) else ""
    return rows[start:start + size], nxt


def introspect_token(state: SandboxState, call: Call) -> Reply:
    return Reply(200, {"active": True, "username": SANDBOX_USER, "scope": "resources.admin:*"})


def start_submission_upload(state: SandboxState, call: Call) -> Reply:
    token = state.start_upload(call.body.get("fileName"))
    return Reply(200, {"token": token, "createUrl": f"{call.base_url}/upload/{token}"})


def create_submission(state: SandboxState, call: Call) -> Reply:
    token = call.body.get("blobFileTokens", "")
    if not state.is_uploaded(token):
        return error(400, "Invalid blob file token: upload the file first")
    try:
        sub = state.create_submission(token, call.user, call.body.get("submissionDescription") or "")
    except LimitReached:
        return error(400, f"Submission not allowed: your team has used its daily submission "
                          f"allowance ({state.daily_limit}) today, try again tomorrow UTC")
    return Reply(200, {"message": f"Successfully submitted to {state.competition}", "ref": sub.ref})


def list_submissions(state: SandboxState, call: Call) -> Reply:
    page, nxt = _page(state.submissions_of(call.user), call.body)
    return Reply(200, {"submissions": [submission_json(state, s) for s in page],
                       "nextPageToken": nxt})


def get_submission(state: SandboxState, call: Call) -> Reply:
    sub = state.find(int(call.body.get("ref", 0)), call.user)
    if sub is None:
        return error(404, "Submission not found")
    return Reply(200, submission_json(state, sub))


def get_submission_limits(state: SandboxState, call: Call) -> Reply:
    """An `ApiSubmissionLimits`: what the team used today and may still submit now."""
    today = len(state.submissions_today(call.user))
    return Reply(200, {"numToday": today, "numTotal": len(state.submissions_of(call.user)),
                       "numAllowedNow": max(0, state.daily_limit - today),
                       "limitedByTotal": False})


def get_leaderboard(state: SandboxState, call: Call) -> Reply:
    rows = [{"teamId": r["team_id"], "teamName": r["team"], "submissionDate": iso(r["date"]),
             "score": f"{r['score']:.5f}"} for r in state.leaderboard()]
    page, nxt = _page(rows, call.body)
    return Reply(200, {"submissions": page, "nextPageToken": nxt})


def download_submission(state: SandboxState, call: Call) -> Reply:
    """A redirect to the submitted file's bytes, as Kaggle's DownloadSubmission does."""
    sub = state.find(int(call.body.get("submissionId") or 0), call.user)
    if sub is None:
        return error(404, "Submission not found")
    return Reply(302, {}, location=f"{call.base_url}/submission-files/{sub.ref}")


def download_data_files(state: SandboxState, call: Call) -> Reply:
    return Reply(302, {}, location=f"{call.base_url}/files/{state.competition}.zip")


HANDLERS: dict[str, Callable[[SandboxState, Call], Reply]] = {
    "IntrospectToken": introspect_token,
    "StartSubmissionUpload": start_submission_upload,
    "CreateSubmission": create_submission,
    "ListSubmissions": list_submissions,
    "GetSubmission": get_submission,
    "GetSubmissionLimits": get_submission_limits,
    "GetLeaderboard": get_leaderboard,
    "DownloadDataFiles": download_data_files,
    "DownloadSubmission": download_submission,
    **CODE_HANDLERS,
}

# calls Kaggle answers only for a team that joined the competition and accepted its rules
PARTICIPANT_ONLY = {"StartSubmissionUpload", "CreateSubmission", "ListSubmissions",
                    "GetSubmission", "GetSubmissionLimits", "DownloadDataFiles",
                    "DownloadSubmission", "CreateCodeSubmission"}
CSV_ONLY = {"StartSubmissionUpload", "CreateSubmission"}  # refused by a code competition
NOT_JOINED = ("Permission 'competitions.participate' was denied: you are not a participant "
              "of this competition")
RULES_NOT_ACCEPTED = ("You must accept this competition's rules before you'll be able to "
                      "submit or download files")


def dispatch(state: SandboxState, method: str, call: Call) -> Reply:
    """Answer one API call: the competition must be ours, the method one of HANDLERS."""
    comp = call.body.get("competitionName")
    if comp is not None and comp != state.competition and method != "IntrospectToken":
        return error(404, f"Competition '{comp}' not found")
    with state.lock:  # one call at a time, so a check and its change cannot interleave
        state.calls.append(method)
        if method in PARTICIPANT_ONLY and not state.joined:
            return error(403, NOT_JOINED)
        if method in PARTICIPANT_ONLY and not state.rules_accepted:
            return error(403, RULES_NOT_ACCEPTED)
        if method in CSV_ONLY and state.code_competition:
            return error(400, f"{state.competition} is a code competition: submissions come "
                              "from notebooks (CreateCodeSubmission), not uploaded files")
        handler = HANDLERS.get(method)
        return error(404, f"Unknown method {method}") if handler is None else handler(state, call)
