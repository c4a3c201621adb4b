cd /work/main
P=".venv/bin/python -m mjx_mikt.run --method ppo --target CentipedeFour --timesteps 2000000 --backend mujoco --no-video --no-register-teacher --preset paper"
$P --num-envs 256 --rollout-length 16 --num-minibatches 8 --update-epochs 4 --learning-rate 1e-3 --run-dir /tmp/pilot/w256 > /tmp/pilot/w256.log 2>&1
$P --num-envs 1024 --rollout-length 8 --num-minibatches 8 --update-epochs 4 --learning-rate 2e-3 --run-dir /tmp/pilot/w1024 > /tmp/pilot/w1024.log 2>&1
