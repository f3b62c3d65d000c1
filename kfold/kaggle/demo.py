"""The offline competition loop for `kf demo`: stand-in server, submit, wait, report, plan."""

from __future__ import annotations

import secrets

from rich.console import Console

from kfold.errors import KfError
from kfold.kaggle import flow, render
from kfold.kaggle.client import Credentials, KaggleClient
from kfold.kaggle.planner import make_plan
from kfold.kaggle.sandbox import SandboxServer
from kfold.workspace import Workspace


def run_competition_loop(ws: Workspace, console: Console, *, n_submit: int = 3,
                         score_delay_s: float = 0.5, poll_s: float = 0.25,
                         top: int = 10) -> dict:
    """Start the stand-in on a free loopback port, submit the best `n_submit` candidates
    of submissions/ (by CV, through the real kaggle client), wait for their scores, print
    `kf submissions`, `kf leaderboard` and `kf plan`, stop the server.

    Needs data/solution.csv and data/sample_submission.csv (from `kf data synth`) and at
    least one candidate CSV with a sidecar under submissions/. Returns a summary dict.
    """
    creds = Credentials(username="kf-demo", key=secrets.token_hex(16))
    server = SandboxServer.from_workspace(ws, score_delay_s=score_delay_s)
    with server:
        console.print(f"[bold]stand-in Kaggle[/] for {ws.config.competition} at {server.url} "
                      f"(daily limit {server.state.daily_limit})", highlight=False)
        client = KaggleClient(ws.config.competition, credentials=creds, url=server.url,
                              backoff_s=0.2)
        submitted = []
        for i in range(n_submit):
            try:
                res = flow.submit(ws, None, f"demo submission {i + 1}", wait=True,
                                  client=client, poll_s=poll_s, wait_timeout_s=120)
            except KfError as exc:  # e.g. today's slots or the candidates are used up (a rerun)
                console.print(f"stopping after {len(submitted)} submission(s): {exc}",
                              highlight=False)
                break
            render.print_submit(console, res)
            submitted.append(res)
        view = flow.submissions_view(ws, client=client)
        render.print_submissions(console, view)
        lb = flow.leaderboard(ws, top=top, client=client)
        render.print_leaderboard(console, lb)
        plan = make_plan(ws, client=client)
        render.print_plan(console, plan)
    return {
        "url": server.url,
        "submitted": [{"file": r.file.name, "ref": r.ref, "cv": r.cv_auc,
                       "public": r.public_score, "private": r.private_score} for r in submitted],
        "left_today": view.quota.left,
        "our_rank": lb.our_rank,
        "n_teams": lb.n_teams,
        "final": [s.name for s in plan.final],
    }


def run_code_competition(ws: Workspace, console: Console, run: str, *,
                         poll_s: float = 0.25) -> dict:
    """The code-competition loop on `run`: `kf package`, `kf kernel`, `kf kernel test`, then
    `kf submit --kernel` to the stand-in run as a code competition (it executes the pushed
    notebook offline on its test images and scores the output). Returns a summary dict."""
    from kfold.kaggle.code import CodeClient
    from kfold.kaggle.code_submit import submit_kernel
    from kfold.kernel.dryrun import dry_run
    from kfold.kernel.notebook import make_kernel
    from kfold.package.build import build_package

    creds = Credentials(username="kf-demo", key=secrets.token_hex(16))
    package = build_package(ws, [run])
    console.print(f"packaged {run}: {len(package.wheels)} wheels, "
                  f"{package.size_bytes / 2**20:.1f} MiB in {package.folder}", highlight=False)
    spec = make_kernel(ws, run, kernel=f"{creds.username}/{run}-kernel")
    test = dry_run(ws, run)
    console.print(f"kf kernel test: predictions equal kf's (max |diff| "
                  f"{max(test.max_diff.values()):.1e}), {test.images_per_second:.1f} images/s, "
                  f"{test.wall_seconds:.1f} s", highlight=False)
    server = SandboxServer.from_workspace(ws, score_delay_s=0.5, code_competition=True)
    with server:
        client = CodeClient(ws.config.competition, credentials=creds, url=server.url,
                            backoff_s=0.2)
        try:
            res = submit_kernel(ws, run, f"demo: {run} as a notebook", wait=True, force=True,
                                client=client, poll_s=poll_s, wait_timeout_s=120)
        except KfError as exc:  # e.g. today's slots are used up (a rerun)
            console.print(f"no code submission: {exc}", highlight=False)
            return {"kernel": spec.kernel, "submitted": None}
    console.print(f"submitted {res.kernel} version {res.kernel_version} (dataset {res.dataset} "
                  f"version {res.dataset_version}): public {res.public_score:.4f}, private "
                  f"{res.private_score:.4f}", highlight=False)
    return {"kernel": res.kernel, "submitted": res.ref, "public": res.public_score,
            "private": res.private_score}
