"""The stand-in's API table, called directly (no sockets): what each method answers."""

from __future__ import annotations

import io
import zipfile

import pytest

from kfold.kaggle.sandbox import SandboxServer
from kfold.kaggle.sandbox.api import HANDLERS, Call, dispatch
from tests.kaggle_helpers import make_competition


@pytest.fixture
def state(tmp_path):
    ws = make_competition(tmp_path / "ws", daily_limit=1)
    server = SandboxServer.from_workspace(ws, score_delay_s=0.0)
    return server.state


def call(state, method, user="alice", **body):
    return dispatch(state, method, Call(body=body, user=user, base_url="http://127.0.0.1:9"))


def _submit(state, content: bytes, user="alice"):
    token = call(state, "StartSubmissionUpload", user, fileName="a.csv").payload["token"]
    assert state.put_upload(token, content)
    return call(state, "CreateSubmission", user, blobFileTokens=token,
                submissionDescription="d")


def test_every_method_the_client_uses_is_in_the_table():
    assert set(HANDLERS) == {"IntrospectToken", "StartSubmissionUpload", "CreateSubmission",
                             "ListSubmissions", "GetSubmission", "GetSubmissionLimits",
                             "GetLeaderboard", "DownloadDataFiles", "DownloadSubmission",
                             # code competitions (tests/test_kaggle_sandbox_code.py)
                             "StartBlobUpload", "CreateDataset", "CreateDatasetVersion",
                             "GetDatasetStatus", "GetDataset", "SaveKernel",
                             "GetKernelSessionStatus", "ListKernelSessionOutput",
                             "GetCompetition", "CreateCodeSubmission"}


def test_unknown_method_and_other_competition_are_404(state):
    assert call(state, "Nope").status == 404
    reply = call(state, "ListSubmissions", competitionName="other")
    assert reply.status == 404 and "other" in reply.payload["message"]


def test_submit_score_and_limits(state):
    sample = (state.data_dir / "solution.csv").read_text().splitlines()
    perfect = "id,pred\n" + "\n".join(f"{ln.split(',')[0]},{ln.split(',')[1]}"
                                      for ln in sample[1:])
    reply = _submit(state, perfect.encode())
    assert reply.status == 200
    got = call(state, "GetSubmission", ref=reply.payload["ref"]).payload
    assert got["status"] == "COMPLETE" and got["publicScore"] == "1.00000"
    limits = call(state, "GetSubmissionLimits").payload
    assert limits == {"numToday": 1, "numTotal": 1, "numAllowedNow": 0, "limitedByTotal": False}
    over = _submit(state, perfect.encode())
    assert over.status == 400 and "daily submission allowance (1)" in over.payload["message"]
    assert call(state, "GetSubmission", user="bob", ref=reply.payload["ref"]).status == 404
    board = call(state, "GetLeaderboard", pageSize=100).payload["submissions"]
    assert board[0]["teamName"] == "alice" and board[0]["score"] == "1.00000"


def test_create_without_upload_is_refused(state):
    token = call(state, "StartSubmissionUpload", fileName="a.csv").payload["token"]
    reply = call(state, "CreateSubmission", blobFileTokens=token)
    assert reply.status == 400 and "upload the file first" in reply.payload["message"]


def test_download_redirects_to_a_zip_without_the_solution(state):
    reply = call(state, "DownloadDataFiles")
    assert reply.status == 302 and reply.location.endswith(f"/files/{state.competition}.zip")
    names = zipfile.ZipFile(io.BytesIO(state.data_zip())).namelist()
    assert "sample_submission.csv" in names and "solution.csv" not in names
