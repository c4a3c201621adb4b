cd "$(dirname "$0")/../.."
# issue 34 diagnostic: the wide-256x16 MIKT cell, seed 0 alone, with the mixing logits at 6x the rate (at 1: results/scale-pilots/wide-256x16-mix1, all five seeds)
P=".venv/bin/python -m mjx_mikt.run --method mikt --source CentipedeFour --target CentipedeEight --preset wide-256x16 --timesteps 2000000 --backend mujoco --no-video --seed 0 --seeds 1 --teacher-seeds 5 --teacher-store results/wide-256x16-2M/teachers --no-train-teacher --eval-every 25"
mkdir -p runs/diag
$P --mix-lr-scale 6 --run-dir runs/diag/mix6 > runs/diag/mix6.log 2>&1
