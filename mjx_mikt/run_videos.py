"""Videos during and after a training run: the CLI's run hooks (`VIDEO_HOOKS`).

- `evaluation_clip`: with --video-every K, a clip of seed 0's policy at every K-th evaluation;
- `final_video`: seed 0's final policy in one episode, when the run ends.

Each goes to RUN_DIR/videos/ as MP4 and to TensorBoard (tb/seed_0) as a GIF. Rendering is a
convenience: when it is unavailable or fails, one warning line says why and the run goes on. The
drawing itself (`frames`, `write_video`, `gif_bytes`) and the policies are `render`'s.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

from mjx_mikt.config import Config
from mjx_mikt.loop import RunHooks
from mjx_mikt.render import Policy, frames, gif_bytes, policy_of_state, rendering_available, run_policy, write_video


def _warn_no_video(err: Exception) -> None:
    print(f"warning: no video of the policy: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}",
          file=sys.stderr, flush=True)


def _record(config: Config, run_dir: Path, robot: str, policy: Policy, steps: int, name: str, tag: str,
            step: int) -> Path:
    """Render one episode of `policy` (seed 0's initial state) to RUN_DIR/videos/<name>-return<R>.mp4
    and, as a GIF of every 2nd frame at half size, to TensorBoard's tb/seed_0 under `tag`. Without
    shadows and reflections: a training run's videos cost a fifth of the time (`render` draws both)."""
    from mjx_mikt.logger import add_gif

    images, episode_return = frames(robot, policy, steps=steps, seed=0, shadows=False)
    path = write_video(images, Path(run_dir) / "videos" / f"{name}-return{episode_return:.0f}.mp4")
    small = [image[::2, ::2] for image in images[::2]]
    add_gif(Path(run_dir) / "tb" / "seed_0", tag, step, gif_bytes(small, fps=10), *small[0].shape[:2])
    return path


def evaluation_clip(trainer, config: Config, run_dir: Path, state, update: int) -> Optional[Path]:
    """The --video-every hook: a clip of seed 0's policy at every video_every-th evaluation."""
    run = config.run
    if run.video_every <= 0 or run.eval_every <= 0 or (update // run.eval_every) % run.video_every:
        return None
    try:
        available, why = rendering_available()
        if not available:
            raise RuntimeError(f"cannot render ({why})")
        path = _record(config, run_dir, run.target, policy_of_state(trainer, config, state, 0), run.video_steps,
                       f"update{update:05d}", "video/policy", update * config.ppo.batch_size)
        print(f"\nvideo: {path}", file=sys.stderr, flush=True)
        return path
    except Exception as err:  # a clip is a convenience: the run goes on without it
        _warn_no_video(err)
        return None


def final_video(config: Config, run_dir: Path) -> Optional[Path]:
    """Render seed 0's final policy (one episode, up to eval_max_steps) to RUN_DIR/videos/ and TensorBoard.

    Rendering is optional: when it is unavailable or fails, one warning line says why and the run
    is unaffected.
    """
    try:
        available, why = rendering_available()
        if not available:
            print(f"warning: no video of the policy: cannot render ({why})", file=sys.stderr, flush=True)
            return None
        robot, policy, update = run_policy(run_dir, 0)
        # one episode, not the evaluation's mean over episodes: the name says which (and its own return)
        path = _record(config, run_dir, robot, policy, min(config.run.eval_max_steps, 1000), "seed0-episode0",
                       "video/final", update * config.ppo.batch_size)
        print(f"video: {path} (seed 0's final policy in one episode, from initial state 0; the final eval return "
              f"above is a mean over {config.run.eval_episodes} episode(s) per seed)", flush=True)
        return path
    except Exception as err:  # a video is a convenience: never fail a finished run for it
        _warn_no_video(err)
        return None


# The CLI's run hooks: a clip every --video-every evaluations and the final video.
VIDEO_HOOKS = RunHooks(after_evaluation=evaluation_clip, after_finish=final_video)
