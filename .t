#!/bin/sh
# run the lead worktree's code with main's venv
cd /work/lead && PYTHONPATH=/work/lead/src exec /work/main/.venv/bin/"$@"
