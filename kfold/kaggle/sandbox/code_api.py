"""The stand-in's handlers for code competitions (kfold.kaggle.sandbox.code holds the state).

Field names are kagglesdk's JSON names (BlobApiService, DatasetApiService, KernelsApiService,
CompetitionApiService), as the real `kaggle` client sends and reads them.
"""

from __future__ import annotations

import re

from kfold.kaggle.sandbox.protocol import Call, Reply, error
from kfold.kaggle.sandbox.state import LimitReached, SandboxState

NOT_A_NOTEBOOK = "Could not find provided notebook"


def start_blob_upload(state: SandboxState, call: Call) -> Reply:
    token = state.start_upload(call.body.get("name"))
    return Reply(200, {"token": token, "createUrl": f"{call.base_url}/upload/{token}"})


def _files(state: SandboxState, files: list[dict]) -> list[tuple[str, bytes]] | None:
    """The uploaded bytes of each file token, None if one was never uploaded."""
    out = []
    for f in files or []:
        token = f.get("token", "")
        if not state.is_uploaded(token):
            return None
        out.append((state.upload_names.pop(token), state.uploads.pop(token)))
    return out


def create_dataset(state: SandboxState, call: Call) -> Reply:
    ref = f"{call.body.get('ownerSlug') or call.user}/{call.body.get('slug')}"
    if ref in state.code.datasets:
        return Reply(200, {"status": "error", "error": f"The dataset {ref} already exists"})
    files = _files(state, call.body.get("files"))
    if files is None:
        return error(400, "Invalid blob file token: upload the files first")
    state.code.add_version(ref, files)
    return Reply(200, {"ref": ref, "url": f"{call.base_url}/datasets/{ref}", "status": "ok"})


def create_dataset_version(state: SandboxState, call: Call) -> Reply:
    ref = f"{call.body.get('ownerSlug')}/{call.body.get('datasetSlug')}"
    if ref not in state.code.datasets:
        return error(404, f"Dataset {ref} not found")
    if state.code.processing(ref):
        return error(403, f"The previous version of {ref} is still being processed; wait until "
                          "it is ready before uploading a new one")
    files = _files(state, (call.body.get("body") or {}).get("files"))
    if files is None:
        return error(400, "Invalid blob file token: upload the files first")
    state.code.add_version(ref, files)
    return Reply(200, {"ref": ref, "url": f"{call.base_url}/datasets/{ref}", "status": "ok"})


def _dataset_ref(call: Call) -> str:
    return f"{call.body.get('ownerSlug')}/{call.body.get('datasetSlug')}"


def get_dataset_status(state: SandboxState, call: Call) -> Reply:
    ref = _dataset_ref(call)
    if ref not in state.code.datasets:
        return error(404, f"Dataset {ref} not found")
    return Reply(200, {"status": "BLOBS_RECEIVED" if state.code.processing(ref) else "READY"})


def get_dataset(state: SandboxState, call: Call) -> Reply:
    ref = _dataset_ref(call)
    if ref not in state.code.datasets:
        return error(404, f"Dataset {ref} not found")
    return Reply(200, {"ref": ref, "currentVersionNumber": len(state.code.datasets[ref])})


def save_kernel(state: SandboxState, call: Call) -> Reply:
    ref = call.body.get("slug") or ""
    unknown = [d for d in call.body.get("datasetDataSources") or []
               if d not in state.code.datasets]
    if unknown:
        return Reply(200, {"error": "invalid dataset sources", "invalidDatasetSources": unknown})
    version = state.code.push(ref, call.body.get("text") or "", call.body.get("datasetDataSources")
                              or [], state.competition, state.data_dir)
    return Reply(200, {"ref": f"/code/{ref}", "url": f"{call.base_url}/code/{ref}",
                       "versionNumber": version.number, "kernelId": abs(hash(ref)) % 10**6})


def _kernel(state: SandboxState, call: Call):
    ref = f"{call.body.get('userName')}/{call.body.get('kernelSlug')}"
    label = re.fullmatch(r"v?(\d+)", call.body.get("versionLabel") or "")
    return ref, state.code.version(ref, int(label.group(1)) if label else None)


def get_kernel_session_status(state: SandboxState, call: Call) -> Reply:
    ref, version = _kernel(state, call)
    if version is None:
        return error(404, f"Kernel {ref} not found")
    return Reply(200, {"status": version.status, "failureMessage": version.failure})


def list_kernel_session_output(state: SandboxState, call: Call) -> Reply:
    ref, version = _kernel(state, call)
    if version is None:
        return error(404, f"Kernel {ref} not found")
    files = [{"fileName": p.name,
              "url": f"{call.base_url}/kernel-files/{ref}/{version.number}/{p.name}"}
             for p in state.code.outputs(version)]
    return Reply(200, {"files": files, "log": state.code.log(version)})


def get_competition(state: SandboxState, call: Call) -> Reply:
    return Reply(200, {"ref": state.competition, "title": state.competition,
                       "isKernelsSubmissionsOnly": state.code_competition,
                       "maxDailySubmissions": state.daily_limit})


def create_code_submission(state: SandboxState, call: Call) -> Reply:
    """Score the output of a finished kernel version as a submission."""
    if not state.code_competition:
        return error(400, f"{state.competition} is not a code competition: submit a file")
    body = call.body
    ref = f"{body.get('kernelOwner')}/{body.get('kernelSlug')}"
    version = state.code.version(ref, body.get("kernelVersion"))
    if version is None:
        return error(404, NOT_A_NOTEBOOK)
    if version.status != "COMPLETE":
        return error(400, f"Notebook {ref} version {version.number} did not finish "
                          f"successfully ({version.status.lower()})")
    name = body.get("fileName") or "submission.csv"
    out = {p.name: p for p in state.code.outputs(version)}
    failure = state.code.fail_kernel
    if failure == "scoring":
        state.code.fail_kernel = None
    content = out[name].read_bytes() if name in out else b""
    try:
        sub = state.add_submission(call.user, name, body.get("submissionDescription") or "",
                                   content)
    except LimitReached:
        return error(400, f"Submission not allowed: your team has used its daily submission "
                          f"allowance ({state.daily_limit}) today, try again tomorrow UTC")
    state.code.submitted[sub.ref] = (ref, version.number)
    if name not in out:
        sub.status, sub.error = "ERROR", "Submission CSV Not Found"
    elif failure == "scoring":
        sub.status, sub.error = "ERROR", "Scoring Error"
    return Reply(200, {"message": f"Successfully submitted to {state.competition}",
                       "ref": sub.ref})


CODE_HANDLERS = {
    "StartBlobUpload": start_blob_upload,
    "CreateDataset": create_dataset,
    "CreateDatasetVersion": create_dataset_version,
    "GetDatasetStatus": get_dataset_status,
    "GetDataset": get_dataset,
    "SaveKernel": save_kernel,
    "GetKernelSessionStatus": get_kernel_session_status,
    "ListKernelSessionOutput": list_kernel_session_output,
    "GetCompetition": get_competition,
    "CreateCodeSubmission": create_code_submission,
}
