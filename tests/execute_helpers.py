"""A spy on the executor: what each fold job was given to train on."""

from __future__ import annotations

from kfold import execute


def spy_fold_data(monkeypatch) -> dict:
    """{(run, tag): FoldData} of every fold job trained after this call (the real training
    still runs)."""
    seen, real = {}, execute.train_job

    def spy(job, arrays, run_dir, reporter, *rest):
        seen[(job.run, job.tag)] = execute.fold_data(job, arrays)
        return real(job, arrays, run_dir, reporter, *rest)

    monkeypatch.setattr(execute, "train_job", spy)
    return seen
