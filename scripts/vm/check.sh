#!/bin/sh
# The cgroup v2 scenarios of scripts/vm-test, run inside the virtual machine
# as warden's `check` service (scripts/vm/vm.yaml). Each prints
# "VMTEST ok NAME" or "VMTEST FAIL NAME: why"; the last line is "VMTEST done",
# then warden is told to shut down, and the machine ends with it.
export WARDEN_CONTROL=/run/warden.sock
CG=/sys/fs/cgroup
ok() { echo "VMTEST ok $1"; }
fail() { echo "VMTEST FAIL $1: $2"; }
# wait_for SECONDS COMMAND...: true as soon as COMMAND succeeds.
wait_for() {
  n=$(($1 * 10)); shift
  while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done
  return 1
}
# field FILE KEY: the value of "KEY value" in a cgroup file.
field() { grep "^$2 " "$1" | cut -d' ' -f2; }
metrics() { wget -qO- http://127.0.0.1:9100/metrics; }
has_metric() { metrics | grep -q "$1"; }

# A cron job follows the wall clock when it is set: warden's timers count
# monotonic time, which a step of the clock does not move. Booted at
# 00:00:05 (init), the job's first run was due at 00:01:00; set to 00:30:58,
# the job runs at 00:31:00, and set back to 00:10:58 after that, at 00:11:00.
ran() { grep -q "^$1" /run/minutely 2> /dev/null; }
date -s '2030-01-01 00:30:58' > /dev/null
if wait_for 8 ran 00:31:0; then ok cron-follows-a-clock-set-forward; else fail cron-follows-a-clock-set-forward "runs: $(cat /run/minutely 2>&1)"; fi
date -s '2030-01-01 00:10:58' > /dev/null
if wait_for 8 ran 00:11:0; then ok cron-follows-a-clock-set-back; else fail cron-follows-a-clock-set-back "runs: $(cat /run/minutely 2>&1)"; fi
if [ "$(wc -l < /run/minutely)" = 2 ]; then ok cron-runs-only-when-due; else fail cron-runs-only-when-due "runs: $(tr '\n' ' ' < /run/minutely)"; fi

# warden sits in a leaf of its own; each service in its own cgroup.
if grep -qx '0::/warden' /proc/1/cgroup; then ok warden-in-its-leaf; else fail warden-in-its-leaf "$(cat /proc/1/cgroup)"; fi
case "$(cat $CG/cgroup.subtree_control)" in
  *cpu*memory*pids*) ok controllers-enabled ;;
  *) fail controllers-enabled "$(cat $CG/cgroup.subtree_control)" ;;
esac
wait_for 20 test -s $CG/steady.service/cgroup.procs
pid=$(head -n1 $CG/steady.service/cgroup.procs)
if [ -n "$pid" ] && grep -qx '0::/steady.service' "/proc/$pid/cgroup" && [ "$(cat /proc/$pid/comm)" = sleep ]; then
  ok started-inside-its-cgroup
else
  fail started-inside-its-cgroup "pid '$pid': $(cat /proc/$pid/cgroup 2>&1)"
fi

# memory: the kernel kills the hog at 32M, warden says so, warden lives.
oom_seen() { [ "$(field $CG/hog.service/memory.events oom_kill)" -ge 1 ] 2>/dev/null; }
oom_told() { warden status hog -w | grep -q 'out of memory (limit 32M)'; }
if wait_for 60 oom_seen && wait_for 20 oom_told; then
  ok oom-killed-and-reported
else
  fail oom-killed-and-reported "$(tr '\n' ' ' < $CG/hog.service/memory.events) / $(warden status hog -w)"
fi
if wait_for 10 has_metric '^warden_service_oom_kills_total{service="hog"} [1-9]'; then
  ok oom-metric
else
  fail oom-metric "$(metrics | grep -E 'oom|exits_total.*hog')"
fi
if [ "$(field $CG/warden/memory.events oom_kill)" = 0 ] && warden status > /dev/null; then
  ok warden-never-oom-killed
else
  fail warden-never-oom-killed "$(tr '\n' ' ' < $CG/warden/memory.events)"
fi

# A worker OOM-killed while the service's program lives: the service runs on
# (scripts/vm-test reads warden's notice of it on the console). The kernel
# picks its victim by size, which is the worker's; the check asks only that
# the service is running after the kills.
worker_killed() { [ "$(field $CG/workers.service/memory.events oom_kill)" -ge 2 ] 2>/dev/null; }
workers_run() { warden status --json workers | grep -q '"state":"running"'; }
if wait_for 30 worker_killed && wait_for 10 workers_run; then
  ok worker-oom-killed-service-runs-on
else
  fail worker-oom-killed-service-runs-on "$(tr '\n' ' ' < $CG/workers.service/memory.events) / $(warden status --json workers)"
fi

# cpus: 0.5 CPU, measured from cpu.stat over 5 s of the machine's uptime.
if [ "$(cat $CG/burner.service/cpu.max)" = "50000 100000" ]; then ok cpu-max-written; else fail cpu-max-written "$(cat $CG/burner.service/cpu.max)"; fi
u0=$(field $CG/burner.service/cpu.stat usage_usec); t0=$(cut -d' ' -f1 /proc/uptime)
sleep 5
u1=$(field $CG/burner.service/cpu.stat usage_usec); t1=$(cut -d' ' -f1 /proc/uptime)
rate=$(awk -v u="$((u1 - u0))" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", u / 1e6 / (b - a) }')
if awk -v r="$rate" 'BEGIN { exit !(r >= 0.4 && r <= 0.6) }'; then ok "cpus-0.5-held (used $rate CPU)"; else fail cpus-0.5-held "used $rate CPU"; fi

# pids: the bomb never holds more than 20 processes, and the kernel refused some.
refused() { [ "$(field $CG/bomb.service/pids.events max)" -ge 1 ] 2>/dev/null; }
if wait_for 30 refused; then
  most=0
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    now=$(cat $CG/bomb.service/pids.current); [ "$now" -gt "$most" ] && most=$now; sleep 0.2
  done
  if [ "$most" -le 20 ] && [ "$most" -ge 15 ]; then ok "pids-capped (at most $most seen)"; else fail pids-capped "$most processes at most"; fi
else
  fail pids-capped "no fork refused: $(cat $CG/bomb.service/pids.events)"
fi

# A daemonizing service: its setsid'd sleeper is in its cgroup, and gone after a stop.
sleeper() { for p in $(cat $CG/daemon.service/cgroup.procs); do grep -q 'sleep.900' /proc/$p/cmdline 2>/dev/null && echo "$p"; done; }
wait_for 20 test -n "$(sleeper)"
escaped=$(sleeper)
if [ -n "$escaped" ]; then
  warden stop daemon > /dev/null
  left=$(cat $CG/daemon.service/cgroup.procs)
  if [ -z "$left" ] && ! ps | grep -q '[s]leep 900'; then ok daemon-tree-stopped; else fail daemon-tree-stopped "left: $left"; fi
else
  fail daemon-tree-stopped "its sleeper never showed up in its cgroup"
fi

# Accounting in status and /metrics.
json=$(warden status --json)
if echo "$json" | grep -q '"name":"burner".*"usage":{"cpu_seconds":[1-9]'; then ok status-accounting; else fail status-accounting "$json"; fi
missing=""
for line in 'warden_service_cpu_seconds_total{service="burner"} [1-9]' \
  'warden_service_memory_bytes{service="steady"} [1-9]' \
  'warden_service_memory_peak_bytes{service="steady"} [1-9]' \
  'warden_service_processes{service="steady"} 1$' \
  'warden_service_memory_limit_bytes{service="hog",enforced="cgroup v2"} 33554432$' \
  'warden_service_cpu_limit{service="burner",enforced="cgroup v2"} 0.500$' \
  'warden_service_pids_limit{service="bomb",enforced="cgroup v2"} 20$'; do
  metrics | grep -q "^$line" || missing="$missing [$line]"
done
if [ -z "$missing" ]; then ok metrics-accounting; else fail metrics-accounting "missing$missing"; fi

# A reload changes a limit in place: same pid, new memory.max.
before=$(head -n1 $CG/steady.service/cgroup.procs)
sed -i 's/memory: 64M/memory: 80M/' /run/vm.yaml
said=$(warden reload 2>&1)
after=$(head -n1 $CG/steady.service/cgroup.procs)
if [ "$(cat $CG/steady.service/memory.max)" = 83886080 ] && [ "$before" = "$after" ] && echo "$said" | grep -q 'limits changed in place: steady'; then
  ok reload-in-place
else
  fail reload-in-place "memory.max $(cat $CG/steady.service/memory.max), pid $before -> $after, said: $said"
fi

echo "VMTEST done"
kill -TERM 1
