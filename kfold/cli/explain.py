"""`kf explain`: Grad-CAM heatmaps of a run and their localization against the defect boxes."""

from __future__ import annotations

from typing import Annotated

import typer

from kfold.cli._common import RunOpt, WorkspaceOpt, console, open_workspace
from kfold.progress import RichReporter
from kfold.registry_names import HEATMAP_METHODS, spelled

app = typer.Typer()


@app.command("explain")
def explain(
    run: RunOpt,
    workspace: WorkspaceOpt = None,
    n: Annotated[int, typer.Option("--n", help="Images in the grid (a TP/FP/FN mix from the OOF predictions).")] = 32,
    ids: Annotated[list[str] | None, typer.Option("--ids", help="Training image ids to show instead (repeat, or comma-separated).")] = None,
    method: Annotated[str, typer.Option(help=f"{spelled(HEATMAP_METHODS)} (keras: gradcam).")] = "gradcam",
    batch_size: Annotated[int, typer.Option(help="Images per Grad-CAM batch.")] = 64,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda or cuda:N (default: the run's).")] = None,
    class_name: Annotated[str | None, typer.Option("--class", help="A multi-class run: the class whose Grad-CAM to show (default: each image's predicted class).")] = None,
) -> None:
    """Grad-CAM heatmaps of a run's out-of-fold images, scored against the defect boxes.

    Writes the heatmaps overlaid on images with the defect box (PNG grid) and stores the
    localization metrics (pointing game, distance, energy, IoU) in run.json. A multi-class
    run's maps explain each image's predicted class, or the class --class names."""
    from kfold.explain.render import render_explain
    from kfold.explain.run import explain_run

    ws = open_workspace(workspace)
    id_list = [i for raw in ids or [] for i in raw.split(",") if i.strip()] or None
    if ids is not None and not id_list:
        from kfold.errors import KfError

        raise KfError("--ids is empty; give training image ids (comma-separated or repeated)")
    report = explain_run(ws, run, n=n, ids=id_list, method=method, batch_size=batch_size,
                         device=device, reporter=RichReporter(console), class_name=class_name)
    for note in report.notes:
        console.print(f"note: {note}", highlight=False)
    console.print(render_explain(report.metrics, run))
    console.print(f"grid: {report.grid}", highlight=False)
    console.print(f"per image: {report.per_image_path}", highlight=False)
