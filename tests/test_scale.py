"""The scale study (`experiments run scale`): its cells, and the numbers of its report from known CSVs."""

import dataclasses
import json
from pathlib import Path

from mjx_mikt.experiments import __main__ as cli
from mjx_mikt.experiments import registry, scale
from mjx_mikt.experiments.grid import Protocol


def test_print_commands_three_cells_per_preset_with_the_preset_and_its_eval_cadence(capsys, tmp_path):
    assert cli.main(["run", "scale", "--presets", "paper,wide-256x16", "--out", str(tmp_path),
                     "--print-commands"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6
    wide = [line for line in lines if "--preset wide-256x16" in line]
    assert len(wide) == 3 and all("--eval-every 25" in line for line in wide)  # 25 x 4096 = 102,400 steps
    assert all(str(tmp_path / "wide-256x16-2M") in line for line in wide)
    assert not any("--eval-every" in line for line in lines if "--preset paper " in line)
    assert "--method ppo --target CentipedeFour" in wide[0] and "--method mikt" in wide[1]


def test_unknown_preset_is_one_line(capsys):
    assert cli.main(["status", "scale", "--presets", "paper,fast"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: unknown preset 'fast' in --presets; choose one of: " + ", ".join(scale.PRESETS))


def _fake_cell(folder: Path, steps_per_update: int, curve, evals, seeds=2, p_s=None, mikt=None, method=None):
    """A finished cell folder whose seed-mean paper curve is `curve` and eval curve `evals` (and p_s of one
    policy layer, if given; `mikt` is its config's mikt part)."""
    folder.mkdir(parents=True)
    rows = ["update,env_steps,seed,episode_return_100" + (",p_s/policy_0" if p_s else "")]
    for u, value in enumerate(curve, 1):
        rows += [f"{u},{u * steps_per_update},{s},{value + (s - 0.5) * 2}" + (f",{p_s[u - 1]}" if p_s else "")
                 for s in range(seeds)]
    (folder / "metrics.csv").write_text("\n".join(rows) + "\n")
    rows = ["update,env_steps,seed,return_mean"]
    for u, value in enumerate(evals, 1):
        rows += [f"{u},{u * steps_per_update},{s},{value}" for s in range(seeds)]
    (folder / "eval.csv").write_text("\n".join(rows) + "\n")
    updates = len(curve)
    run = {"total_timesteps": updates * steps_per_update, **({"method": method} if method else {})}
    (folder / "config.json").write_text(json.dumps({"run": run,
                                                    "ppo": {"num_envs": steps_per_update, "rollout_length": 1},
                                                    "mikt": mikt or {}}))
    (folder / "summary.json").write_text(json.dumps({"updates": updates, "status": "finished", "wall_time_s": 60,
                                                     "eval_return_per_seed": [evals[-1]] * seeds}))


def test_report_reaches_the_baseline_at_the_first_step_of_the_seed_mean_and_divides_by_the_bench(tmp_path):
    # an ablation of the wide preset: MIKT with another mixing rate, compared with the preset's PPO cell
    # and a longer budget: its own update count, no ratio to the preset's (shorter) PPO cell, but one to
    # the PPO cell of the same longer budget
    study = dataclasses.replace(registry.KINDS["scale"], ablations=(
        ("wide-256x16", "mixing rate x1", str(tmp_path / "ablation")),
        ("wide-256x16", "2x env steps", str(tmp_path / "longer")),
        ("wide-256x16", "2x env steps", str(tmp_path / "longer-ppo"))))
    protocols = {p: Protocol(out=tmp_path / p, seeds=2, timesteps=40, preset=p) for p in ("paper", "wide-256x16")}
    # baseline MIKT: final (last 10% of 10 updates = the last one) 100, final eval 200
    _fake_cell(tmp_path / "paper/cells/Four-Eight/mikt", 4, [0, 10, 20, 30, 40, 50, 60, 70, 80, 100],
               [0] * 9 + [200])
    _fake_cell(tmp_path / "paper/cells/CentipedeEight/ppo", 4, [50] * 10, [100] * 10)
    # the teacher is dropped after update ceil(0.5 x 5) = 3: p_s there is 0.7
    _fake_cell(tmp_path / "wide-256x16/cells/Four-Eight/mikt", 8, [0, 100, 150, 150, 150], [50, 250, 250, 250, 250],
               p_s=[0.5, 0.6, 0.7, 0.8, 0.9], mikt={"coupling_end": 0.5, "mix_lr_scale": 6.0})
    _fake_cell(tmp_path / "ablation", 8, [0, 0, 0, 0, 75], [50] * 5)
    _fake_cell(tmp_path / "longer", 8, [0, 0, 0, 0, 75, 80, 90, 100, 110, 120], [50] * 10)
    _fake_cell(tmp_path / "longer-ppo", 8, [0, 0, 0, 0, 10, 20, 30, 40, 50, 60], [25] * 10, method="ppo")
    _fake_cell(tmp_path / "wide-256x16/cells/CentipedeEight/ppo", 8, [50] * 5, [100] * 5)
    bench = tmp_path / "cell-scale.jsonl"
    bench.write_text("\n".join(json.dumps(r) for r in (
        {"robot": "CentipedeEight", "method": "mikt", "preset": "wide-256x16", "seeds": 2,
         "env_steps_per_s_per_seed": 4.0},
        {"robot": "CentipedeEight", "method": "mikt", "preset": "wide-256x16", "seeds": 5,
         "env_steps_per_s_per_seed": 999.0})) + "\n")
    data = scale.build(study, protocols, bench)
    assert data["baseline_levels"] == {"paper": 100.0, "eval": 200.0}
    wide = data["presets"]["wide-256x16"]
    mikt = wide["cells"]["Four->Eight mikt"]
    assert mikt["to_baseline"]["paper"] == {"steps": 16, "minutes": round(16 / 4.0 / 60, 2)}
    assert mikt["to_baseline"]["eval"]["steps"] == 16
    assert wide["cells"]["Eight ppo"]["to_baseline"]["paper"] == {"steps": None, "minutes": None}
    assert wide["mikt_over_ppo"] == {"final": 3.0, "auc": round(110 / 50, 3), "eval": 2.5}
    assert wide["updates"] == 40 // 4096 and data["presets"]["paper"]["throughput_per_seed"] == {}
    assert mikt["p_s_at_switch"] == [0.7] and mikt["mix_lr_scale"] == 6.0
    ablation, longer, longer_ppo = data["ablations"]
    assert ablation["mikt_over_ppo"]["final"] == 1.5 and ablation["mix_lr_scale"] == 1.0
    assert longer["mikt_over_ppo"] == {"final": 2.0, "auc": round(57.5 / 21, 3), "eval": 2.0}
    assert longer["to_baseline"]["paper"]["steps"] == 64
    assert longer_ppo["method"] == "ppo" and "mikt_over_ppo" not in longer_ppo and "mix_lr_scale" not in longer_ppo
    lines = scale.table(data)
    assert any(line.startswith("| wide-256x16 | 256 x 16 | 512 x 4, 0.001, x6 |") and "| 0.7 |" in line
               and "| 16 steps, 0.1 min |" in line for line in lines)
    assert any(line.startswith("| wide-256x16, mixing rate x1 | 256 x 16 | 512 x 4, 0.001, x1 |")
               and "| 1.5, 0.5 |" in line for line in lines)
    [row] = [line for line in lines if line.startswith("| wide-256x16, 2x env steps |") and "| mikt |" in line]
    assert "| 10 (320) | mikt |" in row and "| 64 steps, 0.3 min |" in row and "| 2.0, 2.0 |" in row
    [row] = [line for line in lines if line.startswith("| wide-256x16, 2x env steps |") and "| ppo |" in line]
    assert "| 512 x 4, 0.001, - |" in row and "| not reached |" in row
    written = study.render(data, tmp_path / "report")
    assert study.rebuild(json.loads(written["json"].read_text())) == data
    assert written["figure"].is_file()
