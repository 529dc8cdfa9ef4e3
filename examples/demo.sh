#!/bin/sh
# A program that misbehaves the way real entrypoints do, to watch warden cope:
#   warden -v -- examples/demo.sh
# - it leaves zombies behind (children whose parent never waits for them),
# - it starts a background worker that needs SIGTERM to save its work,
# - then it exits 3 without stopping the worker.
# warden reaps the orphans at once, sends the worker SIGTERM when the program
# exits, waits for it (within --grace), and exits 3 itself.

echo "demo: pid $$, making 20 orphans that exit at once"
i=0
while [ $i -lt 20 ]; do
  (sleep 0.2 &) # the subshell exits at once: its sleep becomes an orphan
  i=$((i + 1))
done

worker() {
  trap 'echo "worker: got SIGTERM, saving work"; sleep 0.3; echo "worker: saved, exiting"; exit 0' TERM
  echo "worker: running (pid $$ in the worker's shell)"
  while :; do sleep 0.1; done
}
worker &

sleep 1
# Zombies among warden's children (warden is this script's parent).
zombies=$(ps -o stat=,ppid= -A | awk -v init="$PPID" '$2 == init && $1 ~ /^Z/' | wc -l)
echo "demo: the orphans have come and gone: $zombies zombies left"
echo "demo: exiting 3 and leaving the worker behind"
exit 3
