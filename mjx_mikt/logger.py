"""Run-folder logging: TensorBoard events (per seed and mean) plus CSV twins.

Layout inside a run folder:
    tb/seed_<i>/   tb/mean/     TensorBoard events (step = env steps per seed)
    metrics.csv                 one row per (update, seed): every training scalar
    eval.csv                    one row per (evaluation, seed): return and length
The CSV files are what `mjx_mikt.plot` reads; they are trimmed on resume so a
resumed run has no duplicated rows.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
from tensorboardX import SummaryWriter

from mjx_mikt.checkpoint import naming

METRICS_CSV = "metrics.csv"
EVAL_CSV = "eval.csv"
EVAL_FIELDS = ["update", "env_steps", "seed", "return_mean", "return_std", "length_mean"]


def _trim_csv(path: Path, max_update: int) -> None:
    """Drop rows logged after the checkpoint a run resumes from."""
    if not path.is_file():
        return
    with path.open() as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= max_update]
    with naming(path), path.open("w", newline="") as f:
        csv.writer(f).writerows(kept)


class RunLogger:
    def __init__(self, run_dir: Path, num_seeds: int, resume_update: Optional[int] = None,
                 resume_step: Optional[int] = None):
        self.run_dir = Path(run_dir)
        self.num_seeds = num_seeds
        if resume_update is not None:
            _trim_csv(self.run_dir / METRICS_CSV, resume_update)
            _trim_csv(self.run_dir / EVAL_CSV, resume_update)
        purge = None if resume_step is None else resume_step + 1
        tb = self.run_dir / "tb"
        self.seed_writers = [SummaryWriter(str(tb / f"seed_{i}"), purge_step=purge) for i in range(num_seeds)]
        self.mean_writer = SummaryWriter(str(tb / "mean"), purge_step=purge)
        self._metric_fields: Optional[List[str]] = None
        self._read_existing_header()

    def _read_existing_header(self) -> None:
        path = self.run_dir / METRICS_CSV
        if path.is_file():
            with path.open() as f:
                header = next(csv.reader(f), None)
            if header:
                self._metric_fields = header[3:]

    def _add(self, tag: str, per_seed: np.ndarray, step: int) -> None:
        per_seed = np.asarray(per_seed, dtype=np.float64).reshape(self.num_seeds)
        for writer, value in zip(self.seed_writers, per_seed):
            if math.isfinite(value):
                writer.add_scalar(tag, value, step)
        finite = per_seed[np.isfinite(per_seed)]
        if finite.size:
            self.mean_writer.add_scalar(tag, float(finite.mean()), step)

    def training(self, update: int, env_steps: int, metrics: Dict[str, np.ndarray]) -> None:
        """metrics: name -> (num_seeds,) values of update `update`."""
        for name, values in metrics.items():
            self._add(name, values, env_steps)
        path = self.run_dir / METRICS_CSV
        if self._metric_fields is None:
            self._metric_fields = sorted(metrics)
            with naming(path), path.open("w", newline="") as f:
                csv.writer(f).writerow(["update", "env_steps", "seed"] + self._metric_fields)
        with naming(path), path.open("a", newline="") as f:
            writer = csv.writer(f)
            for seed in range(self.num_seeds):
                row = [update, env_steps, seed]
                for name in self._metric_fields:
                    value = metrics.get(name)
                    row.append("" if value is None else f"{float(np.asarray(value).reshape(-1)[seed]):.6g}")
                writer.writerow(row)

    def evaluation(self, update: int, env_steps: int, returns: np.ndarray, lengths: np.ndarray) -> None:
        """returns, lengths: (num_seeds, episodes)."""
        self._add("eval/return", returns.mean(axis=1), env_steps)
        self._add("eval/length", lengths.mean(axis=1), env_steps)
        path = self.run_dir / EVAL_CSV
        new = not path.is_file()
        with naming(path), path.open("a", newline="") as f:
            writer = csv.writer(f)
            if new:
                writer.writerow(EVAL_FIELDS)
            for seed in range(self.num_seeds):
                writer.writerow([update, env_steps, seed, f"{returns[seed].mean():.6g}",
                                 f"{returns[seed].std():.6g}", f"{lengths[seed].mean():.6g}"])

    def text(self, tag: str, text: str, step: int = 0) -> None:
        """Text under TensorBoard's Text tab (in tb/mean), shown as a code block."""
        self.mean_writer.add_text(tag, "    " + text.replace("\n", "\n    "), step)

    def evaluated_updates(self) -> set:
        """The updates that have evaluation rows in eval.csv."""
        path = self.run_dir / EVAL_CSV
        if not path.is_file():
            return set()
        with path.open() as f:
            return {int(row["update"]) for row in csv.DictReader(f)}

    def flush(self) -> None:
        for writer in self.seed_writers + [self.mean_writer]:
            with naming(_events_file(writer)):
                writer.flush()

    def close(self) -> None:
        for writer in self.seed_writers + [self.mean_writer]:
            with naming(_events_file(writer)):
                writer.close()


def _events_file(writer: SummaryWriter) -> str:
    """The events file a writer appends to (its folder where tensorboardX does not say), for error lines."""
    try:
        return writer._get_file_writer().event_writer._ev_writer._file_name
    except AttributeError:
        return writer.logdir


def add_gif(log_dir: Path, tag: str, step: int, gif: bytes, height: int, width: int) -> None:
    """An animated GIF into the TensorBoard events of `log_dir` (shown under Images, playing).

    This is the summary tensorboardX's `add_video` writes; its encoder needs moviepy, so the GIF
    comes from `render.gif_bytes` (PIL), which also makes the README's GIFs. A writer of its own,
    opened and closed here, lets a hook add a clip without the run's logger.
    """
    from tensorboardX.proto.summary_pb2 import Summary

    # tensorboardX names an events file by the second it opens (and truncates one of that name): a
    # suffix of its own keeps two clips, or a clip and the run's scalars, written within a second apart
    writer = SummaryWriter(str(log_dir), filename_suffix=f".{re.sub(r'[^A-Za-z0-9]+', '-', tag)}-{step}")
    try:
        image = Summary.Image(height=height, width=width, colorspace=3, encoded_image_string=gif)
        writer._get_file_writer().add_summary(Summary(value=[Summary.Value(tag=tag, image=image)]), step)
    finally:
        writer.close()
