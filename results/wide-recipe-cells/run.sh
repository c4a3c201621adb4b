#!/bin/bash
# Issue 45's 5-seed cells of the pilots that screened best (cells.txt: NAME METHOD FLAGS...), seeds 0-4;
# the PPO arm under the same recipe is the committed cell results/wide-256x16-2M/cells/CentipedeEight/ppo
# (the coupling and fade flags do not touch PPO). Resumable; the runner: results/wide-recipe-pilots/run.sh.
exec bash "$(dirname "$0")/../wide-recipe-pilots/run.sh" cells
