"""The stand-in as a code competition, called directly (no sockets, no kernel run)."""

from __future__ import annotations

import io
import zipfile

import pytest

from kfold.errors import KfError
from kfold.kaggle.code import failure_class
from kfold.kaggle.sandbox import SandboxServer
from kfold.kaggle.sandbox.api import Call, dispatch
from kfold.kaggle.sandbox.code_api import NOT_A_NOTEBOOK
from tests.kaggle_helpers import make_competition


@pytest.fixture
def state(tmp_path):
    ws = make_competition(tmp_path / "ws")
    state = SandboxServer.from_workspace(ws, code_competition=True).state
    yield state
    state.code.close()


def call(state, method, **body):
    return dispatch(state, method, Call(body=body, user="tester", base_url="http://127.0.0.1:9"))


def upload(state, name: str, data: bytes) -> dict:
    token = call(state, "StartBlobUpload", name=name).payload["token"]
    assert state.put_upload(token, data)
    return {"token": token}


def zipped(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_a_dataset_is_stored_with_its_folders_unpacked_and_processes_before_a_new_version(state):
    state.code.processing_s = 60
    files = [upload(state, "kf-package.json", b"{}"),
             upload(state, "models.zip", zipped({"a/fold0.pt": b"w"}))]
    ok = call(state, "CreateDataset", ownerSlug="tester", slug="pkg-kf-package", files=files)
    assert ok.status == 200 and ok.payload["status"] == "ok"
    folder = state.code.datasets["tester/pkg-kf-package"][-1].folder
    assert (folder / "models" / "a" / "fold0.pt").read_bytes() == b"w"
    ref = {"ownerSlug": "tester", "datasetSlug": "pkg-kf-package"}
    assert call(state, "GetDatasetStatus", **ref).payload == {"status": "BLOBS_RECEIVED"}
    early = call(state, "CreateDatasetVersion", **ref,
                 body={"files": [upload(state, "x.json", b"{}")]})
    assert early.status == 403 and "still being processed" in early.payload["message"]
    state.code.processing_s = 0
    state.code.datasets["tester/pkg-kf-package"][-1].ready_at = 0
    assert call(state, "GetDatasetStatus", **ref).payload == {"status": "READY"}
    later = call(state, "CreateDatasetVersion", **ref,
                 body={"files": [upload(state, "x.json", b"{}")]})
    assert later.status == 200
    assert call(state, "GetDataset", **ref).payload["currentVersionNumber"] == 2
    assert call(state, "GetDatasetStatus", ownerSlug="tester",
                datasetSlug="nope").status == 404


def test_code_submissions_need_a_finished_notebook_and_csv_uploads_are_refused(state):
    assert call(state, "GetCompetition").payload["isKernelsSubmissionsOnly"] is True
    missing = call(state, "CreateCodeSubmission", competitionName=state.competition,
                   kernelOwner="tester", kernelSlug="nothing-here", kernelVersion=3,
                   fileName="submission.csv")
    assert missing.status == 404 and missing.payload["message"] == NOT_A_NOTEBOOK
    csv = call(state, "StartSubmissionUpload", fileName="a.csv")
    assert csv.status == 400 and "is a code competition" in csv.payload["message"]
    unknown = call(state, "SaveKernel", slug="tester/k-kernel", text="{}",
                   datasetDataSources=["tester/not-uploaded"])
    assert unknown.payload["invalidDatasetSources"] == ["tester/not-uploaded"]
    with pytest.raises(KfError, match="--fail-kernel 'oops'"):
        state.code.fail("oops")


def test_failure_messages_map_onto_kaggles_classes():
    assert failure_class("Notebook Timeout: a cell ran past") == "Notebook Timeout"
    assert failure_class("Submission CSV Not Found") == "Submission CSV Not Found"
    assert failure_class("") == "Notebook Threw Exception"
    assert failure_class(None) == "Notebook Threw Exception"
