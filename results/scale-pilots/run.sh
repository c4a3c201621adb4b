cd "$(dirname "$0")/../.."
P=".venv/bin/python -m mjx_mikt.run --method ppo --target CentipedeFour --timesteps 2000000 --backend mujoco --no-video --no-register-teacher --preset paper"
mkdir -p runs/pilot
$P --num-envs 256 --rollout-length 16 --num-minibatches 8 --update-epochs 4 --learning-rate 1e-3 --run-dir runs/pilot/w256 > runs/pilot/w256.log 2>&1
$P --num-envs 1024 --rollout-length 8 --num-minibatches 8 --update-epochs 4 --learning-rate 2e-3 --run-dir runs/pilot/w1024 > runs/pilot/w1024.log 2>&1
