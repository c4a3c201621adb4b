#!/bin/bash
# Issue 45's 5-seed cells of the pilots that screened best (cells.txt: NAME METHOD FLAGS...), seeds 0-4;
# a MIKT cell's PPO arm is the PPO cell with the same PPO optimisation: the committed cell
# results/wide-256x16-2M/cells/CentipedeEight/ppo for the preset's (the coupling and fade flags do not touch
# PPO), or a PPO line of cells.txt (table.py matches them by config.json's ppo block). Resumable; the
# runner: results/wide-recipe-pilots/run.sh.
exec bash "$(dirname "$0")/../wide-recipe-pilots/run.sh" cells
