"""Videos of a policy: `python -m mjx_mikt.render RUN_DIR` -> RUN_DIR/videos/seed<I>-return<R>.mp4.

    python -m mjx_mikt.render RUN_DIR [--seed I] [--steps 1000] [-o FILE.mp4|FILE.gif]
    python -m mjx_mikt.render --teacher runs/teachers/CentipedeFour/seed_0
    python -m mjx_mikt.render --random CentipedeEight      # any robot, before any training

One episode of the deterministic policy (the mean action) on native MuJoCo,
with a camera that tracks the robot's root body; each frame is captioned with
the step and the return so far. A run's policy is its latest checkpoint; a
MIKT student reads its teacher only if that checkpoint is still in the
teacher phase (a finished run has dropped it). --seed I picks the run's seed
index (as tb/seed_<I>) and also seeds the episode's initial state.

Headless rendering uses EGL (MUJOCO_GL=egl unless set; 'disable' where libEGL
is missing). On a machine without a GPU, EGL renders in software through Mesa;
the Debian/Ubuntu packages it needs are:
    apt-get install -y --no-install-recommends libegl1 libgl1 libgl1-mesa-dri
(libegl1 pulls in libegl-mesa0; libgl1-mesa-dri is the llvmpipe rasterizer.)
MUJOCO_GL=osmesa needs libosmesa6 instead. When no backend works the command
exits with code 2 and one line saying why.

Library API (used by the tests): `frames`, `write_video`, `rendering_available`.
"""

from __future__ import annotations

import os

# MUJOCO_GL is set by the package (`mjx_mikt.default_gl_backend`) before mujoco is imported.

import argparse
import functools
import importlib
import io
import sys
import warnings
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco.rendering.classic import gl_context as _gl_context

from mjx_mikt import checkpoint, envs, patches
from mjx_mikt.config import Config, ConfigError, PPOConfig
from mjx_mikt.normalization import RunningStats, normalize
from mjx_mikt.run_folder import RunFolder

# A process that imported mujoco before MUJOCO_GL was set (a test session, the
# trainer) holds the display-only GLFW backend; reload mujoco's backend choice
# so that it follows MUJOCO_GL.
# Without that backend's library (no libEGL on a bare GPU server, no libosmesa) the reload
# raises; a training run with --no-video must still start, so the reason is kept and
# `rendering_available` reports it where a video is asked for.
_GL_BACKEND_ERROR = ""
if getattr(_gl_context, "_MUJOCO_GL", None) != os.environ.get("MUJOCO_GL", "").lower().strip():
    try:
        importlib.reload(_gl_context)
    except Exception as err:  # AttributeError, ImportError, OSError, depending on what is missing
        first_line = (str(err).splitlines() or [""])[0]  # an empty message must not fail the import
        _GL_BACKEND_ERROR = f"MUJOCO_GL={os.environ.get('MUJOCO_GL', '')}: {type(err).__name__}: {first_line}"

# obs (observation_size,) -> action (action_size,)
Policy = Callable[[np.ndarray], np.ndarray]

INSTALL_HINT = ("install headless OpenGL (Debian/Ubuntu: apt-get install -y libegl1 libgl1 libgl1-mesa-dri) "
                "or use MUJOCO_GL=osmesa with libosmesa6")
_PROBE_XML = "<mujoco><worldbody><light pos='0 0 2'/><geom type='sphere' size='0.1'/></worldbody></mujoco>"


def rendering_available() -> Tuple[bool, str]:
    """(True, '') if an offscreen mujoco.Renderer can render here, else (False, one-line reason)."""
    if _GL_BACKEND_ERROR:
        return False, _GL_BACKEND_ERROR
    try:
        model = mujoco.MjModel.from_xml_string(_PROBE_XML)
        renderer = mujoco.Renderer(model, 16, 16)
        try:
            renderer.update_scene(mujoco.MjData(model))
            renderer.render()
        finally:
            renderer.close()
    except Exception as err:  # GL failures come as many types (ImportError, FatalError, AttributeError...)
        lines = str(err).strip().splitlines()
        return False, f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__
    return True, ""


def tracking_camera(distance: float = 4.0) -> mujoco.MjvCamera:
    """A camera that follows the root body (body 1) from the side, slightly above it."""
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_TRACKING
    camera.trackbodyid = 1
    camera.distance = distance
    camera.azimuth = 90.0  # looking along +y: the robots walk along x, across the picture
    camera.elevation = -20.0
    return camera


def _caption(image: np.ndarray, text: str) -> np.ndarray:
    """image (H, W, 3) uint8 with `text` drawn in its top-left corner (white on a dark outline)."""
    from PIL import Image, ImageDraw, ImageFont

    picture = Image.fromarray(image)
    font = ImageFont.load_default(size=max(10, image.shape[0] // 20))
    ImageDraw.Draw(picture).text((6, 4), text, font=font, fill=(255, 255, 255),
                                 stroke_width=2, stroke_fill=(0, 0, 0))
    return np.asarray(picture)


@functools.lru_cache(maxsize=None)
def _episode_functions(robot: str):
    """(env, jitted reset, jitted step) of `robot` on native MuJoCo, built once per process (a run's
    --video-every clips would otherwise compile them again for every clip)."""
    env = envs.make(robot, backend="mujoco")
    return env, jax.jit(env.reset), jax.jit(env.step)


def frames(robot: str, policy_fn: Policy, steps: int = 1000, seed: int = 0, width: int = 320,
           height: int = 240, caption: bool = True, distance: float = 4.0,
           shadows: bool = True) -> Tuple[List[np.ndarray], float]:
    """Roll `policy_fn` for one episode of `robot` (at most `steps` actions) and render it.

    Returns (frames, episode_return): one (height, width, 3) uint8 frame per
    action taken, showing the state the action was chosen in. The episode is
    the project's env on native MuJoCo (reset from PRNGKey(seed)), so the
    return is the one training and evaluation measure. shadows=False also
    drops the floor's reflection: software EGL (a CPU machine) renders a frame
    about 5x faster without the two, which is what the end of a training run uses.
    """
    env, reset, step = _episode_functions(robot)
    model = env.physics.model  # the exact model the env steps
    model.vis.global_.offwidth = max(model.vis.global_.offwidth, width)  # offscreen buffer size
    model.vis.global_.offheight = max(model.vis.global_.offheight, height)
    data = mujoco.MjData(model)
    camera = tracking_camera(distance)
    state = reset(jax.random.PRNGKey(seed))
    images, episode_return = [], 0.0
    renderer = mujoco.Renderer(model, height, width)
    try:
        for t in range(steps):
            data.qpos[:] = np.asarray(state.physics.qpos)
            data.qvel[:] = np.asarray(state.physics.qvel)
            mujoco.mj_forward(model, data)  # body poses (and the camera target) of this state
            renderer.update_scene(data, camera)
            if not shadows:
                renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
                renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
            image = renderer.render()
            images.append(_caption(image, f"{robot}  step {t}  return {episode_return:.1f}") if caption else image)
            action = jnp.asarray(policy_fn(np.asarray(state.obs)), jnp.float32)
            state = step(state, action)
            episode_return += float(state.reward)
            if float(state.done):  # the env has already auto-reset: nothing more of this episode to show
                break
    finally:
        renderer.close()
    return images, episode_return


GIF_COLOURS = 32


def gif_bytes(images: Sequence[np.ndarray], fps: int) -> bytes:
    """(H, W, 3) uint8 frames as an animated GIF with one palette for all frames and no dithering.

    A rendered scene is smooth shading plus a scrolling floor: per-frame palettes and dithering
    change every pixel between frames, which GIF's frame differencing cannot compress (a 5 s clip
    was ~1.4 MB that way, ~0.3 MB like this).
    """
    from PIL import Image

    sample = np.concatenate(list(images[:: max(1, len(images) // 10)]), axis=0)
    palette = Image.fromarray(sample).quantize(colors=GIF_COLOURS, method=Image.Quantize.MEDIANCUT)
    frames = [Image.fromarray(np.asarray(f)).quantize(palette=palette, dither=Image.Dither.NONE) for f in images]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=round(1000 / fps),
                   loop=0, optimize=True)
    return buffer.getvalue()


def write_video(images: Sequence[np.ndarray], path, fps: int = 20) -> Path:
    """Encode (H, W, 3) uint8 frames as an animated GIF (path ends with .gif) or else an H.264 MP4."""
    import imageio.v2 as imageio_v2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".gif":
        path.write_bytes(gif_bytes(images, fps))
    else:
        # imageio-ffmpeg's own ffmpeg binary; libx264 in yuv420p needs even sizes (macro_block_size=2).
        # Starting ffmpeg forks and then execs at once, so JAX's warning about forking does not apply.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="os.fork", category=RuntimeWarning)
            with imageio_v2.get_writer(path, format="FFMPEG", fps=fps, codec="libx264",
                                       macro_block_size=2) as writer:
                for image in images:
                    writer.append_data(image)
    return path


# ----------------------------------------------------------------- policies
def _mean_action(agent, params, obs_stats: Optional[RunningStats], obs_clip: float,
                 use_teacher: bool = False, teachers=None) -> Policy:
    """The deterministic policy: normalise the observation as in training, return the mean action."""

    @jax.jit
    def act(obs):
        if obs_stats is not None:
            obs = normalize(obs_stats, obs, obs_clip)
        mean, _, _ = agent.apply(params, obs, use_teacher=use_teacher, teachers=teachers)
        return mean

    return act


def random_policy(action_size: int, seed: int = 0) -> Policy:
    """Actions uniform in [-1, 1] (the actuators' control range)."""
    rng = np.random.default_rng(seed)
    return lambda obs: rng.uniform(-1.0, 1.0, action_size).astype(np.float32)


def teacher_policy(path: Path) -> Tuple[str, Policy]:
    """(robot, policy) of a teacher folder (teacher.msgpack + teacher.json: a PPO agent)."""
    from mjx_mikt.agents import PPOAgent

    data = checkpoint.load_teacher(path)
    robot = data["robot"]
    if robot not in envs.names():
        raise envs.UnknownRobotError(f"teacher {path} is for unknown robot {robot!r}")
    policy = data["params"]["policy"]
    # the file does not record the layer sizes; the params do
    hidden = tuple(int(np.shape(policy[f"hidden_{j}"]["bias"])[0])
                   for j in range(sum(name.startswith("hidden_") for name in policy)))
    ppo = PPOConfig(hidden_sizes=hidden)
    agent = PPOAgent(int(data["observation_size"]), int(data["action_size"]), ppo)
    stats = RunningStats(jnp.asarray(data["obs_mean"]), jnp.asarray(data["obs_var"]), jnp.ones(()))
    params = jax.tree.map(jnp.asarray, data["params"])
    return robot, _mean_action(agent, params, stats, ppo.obs_clip)


def run_policy(run_dir: Path, seed_index: int = 0) -> Tuple[str, Policy, int]:
    """(robot, policy, update) of seed `seed_index` at the latest checkpoint of a run folder."""
    folder = RunFolder.open(run_dir)
    if not 0 <= seed_index < folder.config.run.num_seeds:
        raise ConfigError(f"--seed {seed_index}: run {run_dir} has seeds 0..{folder.config.run.num_seeds - 1}")
    folder = folder.on_backend("mujoco")  # only the state's shapes are needed: the native env gives them
    trainer, teachers = folder.build()
    state, _ = folder.restore(trainer, teachers)
    update = int(np.asarray(state.update).reshape(-1)[seed_index])
    return folder.config.run.target, policy_of_state(trainer, folder.config, state, seed_index), update


def policy_of_state(trainer, config: Config, state, seed_index: int = 0) -> Policy:
    """The deterministic policy of seed `seed_index` of a seed-batched TrainState (teacher read while in use)."""

    def of_seed(tree):
        return jax.tree.map(lambda x: jnp.asarray(x)[seed_index], tree)

    update = int(np.asarray(state.update).reshape(-1)[seed_index])
    teachers = of_seed(state.teachers) if jax.tree.leaves(state.teachers) else None
    stats = of_seed(state.obs_stats) if config.ppo.normalize_obs else None
    return _mean_action(trainer.agent, of_seed(state.params), stats, config.ppo.obs_clip,
                        use_teacher=trainer.use_teacher_at(update), teachers=teachers)




# ---------------------------------------------------------------------- CLI
class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows a default where there is one: not None, not a switch's False, not one the help text gives."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or "(default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mjx_mikt.render", description=__doc__.splitlines()[0],
                                     formatter_class=_HelpFormatter)
    parser.add_argument("run_dir", nargs="?", type=Path, help="run folder (config.json + checkpoints/)")
    parser.add_argument("--teacher", type=Path, help="render a teacher folder instead of a run")
    parser.add_argument("--random", metavar="ROBOT", help="render random actions on ROBOT instead of a run")
    parser.add_argument("--seed", type=int, default=0, help="run seed index; also seeds the initial state")
    parser.add_argument("--steps", type=int, default=1000, help="at most this many control steps")
    parser.add_argument("--width", type=int, default=320, help="frame width in pixels")
    parser.add_argument("--height", type=int, default=240, help="frame height in pixels")
    parser.add_argument("--fps", type=int, default=20,
                        help="frames per second of the output file (playback speed; the policy's steps are unchanged)")
    parser.add_argument("--every", type=int, default=1,
                        help="keep every N-th frame (a shorter, smaller file; the policy still acts every step)")
    parser.add_argument("--distance", type=float, default=4.0, help="camera distance to the robot")
    parser.add_argument("--no-shadows", action="store_true",
                        help="no shadows or floor reflection: about 5x faster with software rendering (a CPU "
                             "machine); a training run's own videos are drawn this way")
    parser.add_argument("-o", "--output", type=Path, help="output .mp4 or .gif (default: RUN_DIR/videos/seed<I>-return<R>.mp4, "
                             "./<robot>-random.mp4 or ./<robot>-teacher-return<R>.mp4)")
    return parser


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    return 2


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    patches.install_all()  # the programs a training run lowers, lowered alike (mjx_mikt/patches.py)
    sources = [args.run_dir is not None, args.teacher is not None, args.random is not None]
    if sum(sources) != 1:
        return _error("give exactly one of RUN_DIR, --teacher DIR, --random ROBOT")
    if args.steps < 1 or args.width < 1 or args.height < 1 or args.fps < 1:
        return _error("--steps, --width, --height and --fps must be positive")
    ok, reason = rendering_available()
    if not ok:
        return _error(f"cannot render (MUJOCO_GL={os.environ.get('MUJOCO_GL', '')}): {reason}; {INSTALL_HINT}")
    try:
        if args.random is not None:
            robot = args.random  # a name or an MJCF file (make raises a one-line ConfigError)
            policy, what = random_policy(envs.make(robot, backend="mujoco").action_size, args.seed), "random policy"
        elif args.teacher is not None:
            robot, policy = teacher_policy(args.teacher)
            what = f"teacher {args.teacher}"
        else:
            robot, policy, update = run_policy(args.run_dir, args.seed)
            what = f"{args.run_dir} seed {args.seed} at update {update}"
    except (ConfigError, checkpoint.CheckpointError, envs.UnknownRobotError) as err:
        return _error(str(err))
    images, episode_return = frames(robot, policy, args.steps, args.seed, args.width, args.height,
                                    distance=args.distance, shadows=not args.no_shadows)
    output = args.output
    if output is None:
        if args.random is not None:
            output = Path(f"{envs.robot_id(robot)}-random.mp4")
        elif args.teacher is not None:
            output = Path(f"{robot}-teacher-return{episode_return:.0f}.mp4")
        else:
            output = args.run_dir / "videos" / f"seed{args.seed}-return{episode_return:.0f}.mp4"
    write_video(images[:: max(1, args.every)], output, args.fps)
    print(f"{output}: {robot}, {what}, {len(images)} steps, return {episode_return:.1f}, "
          f"{output.stat().st_size:,} bytes", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
