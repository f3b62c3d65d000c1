"""`kf submit|submissions|leaderboard|plan` and `kf sandbox serve`."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from kfold.cli._common import (
    CompetitionOpt,
    FormatOpt,
    WorkspaceOpt,
    check_format,
    console,
    emit,
    err_console,
    open_workspace,
    say,
    warn_credentials,
)

app = typer.Typer()
submission_app = typer.Typer(name="submission", help="One earlier submission.",
                             no_args_is_help=True)
sandbox_app = typer.Typer(name="sandbox", help="A local stand-in for Kaggle (offline competition loop).",
                          no_args_is_help=True)
app.add_typer(submission_app)
app.add_typer(sandbox_app)


def _log(msg: str) -> None:
    err_console.print(Text(msg, style="dim"), highlight=False)


@app.command("submit")
def submit(
    file: Annotated[Path | None, typer.Argument(
        help="Submission CSV (default: the best-CV candidate not yet submitted).")] = None,
    message: Annotated[str, typer.Option(
        "--message", "-m", show_default=False,
        help="Required (except with --dry-run): the description Kaggle shows.")] = "",
    wait: Annotated[bool, typer.Option(help="Poll until scored and store the public score.")] = False,
    force: Annotated[bool, typer.Option(
        help="Submit content or predictions that were already submitted.")] = False,
    dry_run: Annotated[bool, typer.Option(
        help="Validate and show what would be spent; upload nothing.")] = False,
    kernel: Annotated[str | None, typer.Option(
        "--kernel", help="Code competition: upload packages/NAME, push kernels/NAME, wait "
                         "for its run and submit that version (after `kf kernel test "
                         "NAME`).")] = None,
    workspace: WorkspaceOpt = None,
    competition: CompetitionOpt = None,
) -> None:
    """Validate, reserve a daily slot, upload to Kaggle and record it in the ledger."""
    from kfold.kaggle.flow import submit as do_submit
    from kfold.kaggle.render import print_submit

    ws = open_workspace(workspace)
    if kernel is not None:
        _submit_kernel(ws, kernel, file, message, wait, force, dry_run, competition)
        return
    res = do_submit(ws, file, message, wait=wait, force=force, dry_run=dry_run,
                    competition=competition, log=_log)
    print_submit(console, res)


def _submit_kernel(ws, name: str, file: Path | None, message: str, wait: bool, force: bool,
                   dry_run: bool, competition: str | None) -> None:
    from kfold.errors import KfError
    from kfold.kaggle.code_submit import submit_kernel

    if file is not None or dry_run:
        raise KfError("--kernel submits a notebook: give no FILE (and no --dry-run: "
                      f"`kf kernel test {name}` is the dry run)")
    r = submit_kernel(ws, name, message, wait=wait, force=force, competition=competition,
                      log=_log)
    scores = "" if r.public_score is None else f", public {r.public_score:.5f}"
    console.print(f"submitted {r.kernel} version {r.kernel_version} ({r.target}, CV "
                  f"{r.cv_auc:.5f}; dataset {r.dataset} version {r.dataset_version}): ref "
                  f"{r.ref}, {r.status}{scores}", highlight=False)
    if r.left_today is not None:
        console.print(f"{r.left_today} submission(s) left today", highlight=False)


@app.command("submissions")
def submissions(
    sync: Annotated[bool, typer.Option(hidden=True, help="Kept for old scripts: website "
                                       "submissions are always merged now.")] = False,
    offline: Annotated[bool, typer.Option(help="Show the ledger only; no network.")] = False,
    export: Annotated[Path | None, typer.Option(
        "--export", help="Also write every submission (CV, public, private, message, lineage, "
                         "file hash) to this CSV file.")] = None,
    fmt: FormatOpt = "table",
    workspace: WorkspaceOpt = None,
    competition: CompetitionOpt = None,
) -> None:
    """Ledger and Kaggle's list merged: CV, public, private, status; slots left today."""
    from kfold.kaggle.export import (
        RECORD_FIELDS,
        check_export_path,
        export_submissions,
        submission_records,
    )
    from kfold.kaggle.flow import submissions_view
    from kfold.kaggle.render import print_submissions

    check_format(fmt)
    if export is not None:
        check_export_path(export)
    ws = open_workspace(workspace)
    if not offline:
        warn_credentials()
    view = submissions_view(ws, competition=competition, offline=offline)
    if fmt == "table":
        print_submissions(console, view)
    else:
        emit(submission_records(view), fmt, RECORD_FIELDS)
        say("quota", "dim", view.quota.text())  # stderr: where the slots left come from
    if export is not None:
        say("wrote", "dim", f"{export_submissions(ws, view, export)} ({len(view.rows)} submissions)")


@submission_app.command("download")
def download_submission(
    ref: Annotated[int, typer.Argument(help="The submission's ref (see `kf submissions`).")],
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Where to write it (default: submissions/downloads/<ref>-<file>).")] = None,
    workspace: WorkspaceOpt = None,
    competition: CompetitionOpt = None,
) -> None:
    """Download the file of one of our earlier submissions from Kaggle."""
    from kfold.kaggle.export import download_submission as fetch

    ws = open_workspace(workspace)
    warn_credentials()
    got = fetch(ws, ref, out, competition=competition)
    if got.note:
        say("note", "yellow", got.note)
    console.print(f"wrote {got.path} ({got.path.stat().st_size:,} bytes)", highlight=False)


@app.command("leaderboard")
def leaderboard(
    top: Annotated[int, typer.Option(help="Rows to show.")] = 10,
    team: Annotated[str | None, typer.Option(help="Our team name (default: the Kaggle username).")] = None,
    fmt: FormatOpt = "table",
    workspace: WorkspaceOpt = None,
    competition: CompetitionOpt = None,
) -> None:
    """Fetch and snapshot the public leaderboard; our rank now and over time (PNG)."""
    from kfold.kaggle.export import LEADERBOARD_FIELDS, leaderboard_records
    from kfold.kaggle.flow import leaderboard as fetch
    from kfold.kaggle.render import print_leaderboard

    check_format(fmt)
    ws = open_workspace(workspace)
    warn_credentials()
    view = fetch(ws, top=top, team=team, competition=competition)
    if fmt == "table":
        print_leaderboard(console, view)
    else:
        emit(leaderboard_records(view), fmt, LEADERBOARD_FIELDS)


@app.command("plan")
def plan(
    offline: Annotated[bool, typer.Option(help="Slots from the ledger only; no network.")] = False,
    fmt: FormatOpt = "table",
    workspace: WorkspaceOpt = None,
    competition: CompetitionOpt = None,
) -> None:
    """Rank unsubmitted candidates for today's slots; recommend the final two.

    Candidates are ranked by expected private score (shake-up simulation); the second of the
    final two is a hedge."""
    from kfold.kaggle.planner import make_plan
    from kfold.kaggle.render import PLAN_FIELDS, plan_records, plan_rows, print_plan

    check_format(fmt)
    ws = open_workspace(workspace)
    p = make_plan(ws, competition=competition, offline=offline)
    if fmt == "json":
        emit(plan_records(p), fmt)
    elif fmt == "csv":
        emit(plan_rows(p), fmt, PLAN_FIELDS)
    else:
        print_plan(console, p)


@sandbox_app.command("serve")
def serve(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: a free one).")] = 0,
    daily_limit: Annotated[int | None, typer.Option(help="Submissions per UTC day (default: kfold.toml).")] = None,
    score_delay: Annotated[float, typer.Option(help="Seconds a submission stays pending.")] = 2.0,
    slow: Annotated[float, typer.Option(help="Delay every answer by this many seconds.")] = 0.0,
    fail: Annotated[str | None, typer.Option(
        help="Inject failures: STATUS:COUNT[:METHOD], e.g. 500:2:CreateSubmission or 429:1.")] = None,
    hide_private: Annotated[bool, typer.Option(
        help="Hide private scores, as Kaggle does until the competition ends.")] = False,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    not_joined: Annotated[bool, typer.Option(
        help="Answer as Kaggle does for a team that has not joined the competition.")] = False,
    rules_not_accepted: Annotated[bool, typer.Option(
        help="Answer as Kaggle does before the competition rules are accepted.")] = False,
    code_competition: Annotated[bool, typer.Option(
        "--code-competition", help="Take notebooks (kf submit --kernel), not CSV files: "
                                   "pushed kernels run here, offline, on the test images.")] = False,
    fail_kernel: Annotated[str | None, typer.Option(
        "--fail-kernel", help="Provoke a failure Kaggle reports: timeout, exception, no-csv "
                              "(the next kernel run) or scoring (the next code "
                              "submission).")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Serve a stand-in Kaggle competition on loopback, scoring against data/solution.csv."""
    from kfold.errors import KfError, check_number
    from kfold.kaggle.client import ENDPOINT_ENV
    from kfold.kaggle.sandbox import SandboxServer

    if duration is not None:
        check_number("--duration", duration, low=0, high=1e9, low_open=True)
    ws = open_workspace(workspace)
    server = SandboxServer.from_workspace(ws, port=port, daily_limit=daily_limit,
                                          score_delay_s=score_delay, delay_s=slow,
                                          reveal_private=not hide_private,
                                          joined=not not_joined,
                                          rules_accepted=not rules_not_accepted,
                                          code_competition=code_competition,
                                          fail_kernel=fail_kernel)
    if fail:
        parts = fail.split(":")
        try:
            server.fail_next(int(parts[0]), int(parts[1]) if len(parts) > 1 else 1,
                             parts[2] if len(parts) > 2 else None)
        except ValueError:
            raise KfError(f"--fail {fail!r}: expected STATUS:COUNT[:METHOD], e.g. 500:2") from None
    console.print(f"stand-in Kaggle for [bold]{ws.config.competition}[/] on {server.url} "
                  f"(daily limit {server.state.daily_limit}); point kf at it with:", highlight=False)
    console.print(f"  export {ENDPOINT_ENV}={server.url}", highlight=False, soft_wrap=True)
    console.print("  (any kaggle.json or KAGGLE_USERNAME/KAGGLE_KEY is accepted); Ctrl-C stops it")
    server.start()
    sys.stdout.flush()
    try:
        deadline = None if duration is None else time.monotonic() + duration
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    console.print(f"stopped; {len(server.state.submissions)} submission(s) received")
