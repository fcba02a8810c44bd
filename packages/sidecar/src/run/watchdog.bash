# The watchdog of `leasehold run`: a small process between the sidecar and the command, so
# that the command is stopped even when the sidecar cannot do it.
#
#   bash -p watchdog.bash <command> [args…]   (started by the sidecar: watched-command.ts)
#
# bash, not a second Node: it starts in a few milliseconds, so no watchdog needs to be kept
# started ahead of time, and it costs about 4 MB resident instead of 45 (docs/run.md).
# The protocol is watchdog-protocol.ts's: lines "<termAt> <killAt>" on stdin, the first
# with " <term>" after them (the start order); times in whole milliseconds on the clock of
# /proc/uptime, the one clock a shell reads without starting a process. Reports go to fd 3
# as JSON lines; fd 4 is the sidecar's stdin, handed on to the command as its stdin.
#
# It starts the command once the start order arrives, as the leader of a process group of
# its own (`set -m`), and then signals that whole group
#   - SIGKILL at once when its stdin closes: the sidecar died and nobody renews the lease;
#   - SIGTERM and SIGKILL when the latest plan's times pass: the sidecar sent no newer plan
#     because it is frozen or blocked, or because it is stopping the command.
# It exits once no process of the group is left.

set -m # every background job leads a process group of its own
# Ctrl-C, a closing terminal and a TERM to its group are not how the command stops: the
# sidecar decides (through its plans). A no-op handler, not '' (ignored): the command must
# get these signals' default actions back, and an ignored signal is inherited across exec.
trap : INT TERM HUP
# A report to a sidecar that is gone: the write fails, the closed stdin says the same.
trap : PIPE

# While the command runs, how often to look whether it exited (bash's `read` is not
# interrupted by SIGCHLD); while it is being stopped, how often to look at its group.
readonly RUNNING_POLL_MS=250
readonly STOPPING_POLL_MS=20

term_at=0 kill_at=0 term='' pid='' term_sent=0 kill_sent=0 exited=0 sidecar_gone=0 now=0

report() { printf '%s\n' "$1" >&3 2>/dev/null; }

# Milliseconds on /proc/uptime's clock (it counts in hundredths of a second).
read_clock() {
  local up
  read -r up _ </proc/uptime
  now=$((10#${up/./} * 10))
}

# A plan line: "<termAt> <killAt>", the start order with " <term>". Others are ignored.
take_plan() {
  [[ $1 =~ ^([0-9]+)\ ([0-9]+)(\ ([0-9]+))?$ ]] || return 1
  term_at=${BASH_REMATCH[1]} kill_at=${BASH_REMATCH[2]}
  [[ -z ${BASH_REMATCH[4]} ]] || term=${BASH_REMATCH[4]}
}

# Signal the command's group; report it when the group had a process to signal, with how
# long after the plan's time it went out (a host that stalled this watchdog shows here).
send() { # <TERM|KILL> <plan|sidecar-gone> [<due>]
  ((kill_sent)) && return
  if [[ $1 == TERM ]]; then term_sent=1; else kill_sent=1; fi
  local late=0
  [[ -n ${3-} ]] && ((now > $3)) && late=$((now - $3))
  kill -s "$1" -- "-$pid" 2>/dev/null &&
    report "{\"event\":\"signalled\",\"signal\":\"SIG$1\",\"why\":\"$2\",\"lateMs\":$late}"
}

# Whether a process of the group still runs. Zombies do not count: a member whose parent
# died is handed to PID 1, and not every PID 1 reaps (a container's often does not).
group_alive() {
  kill -0 -- "-$pid" 2>/dev/null || return 1 # no member at all, not even a zombie
  local file stat fields
  for file in /proc/[0-9]*/stat; do
    { read -r stat <"$file"; } 2>/dev/null || continue
    # "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses.
    fields=(${stat##*) })
    [[ ${fields[2]} == "$pid" && ${fields[0]} != [ZX] ]] && return 0
  done
  return 1
}

# The command's own process: bash reaps it as it exits; report how it ended. With "now",
# whether or not it looks gone (it has, once its group has: reap it, never leave a zombie).
check_exited() {
  ((exited)) && return
  [[ $1 == now ]] || ! kill -0 "$pid" 2>/dev/null || return
  exited=1
  wait "$pid"
  local status=$?
  if ((status > 128)); then
    report "{\"event\":\"exited\",\"code\":null,\"signal\":\"SIG$(kill -l "$status")\"}"
  else
    report "{\"event\":\"exited\",\"code\":$status,\"signal\":null}"
  fi
}

# Send what the plan says is due; after a SIGKILL, keep killing what the group forks.
enforce() {
  read_clock
  ((!term_sent && now >= term_at)) && send TERM plan "$term_at"
  ((!kill_sent && now >= kill_at)) && send KILL plan "$kill_at"
  ((kill_sent)) && kill -s KILL -- "-$pid" 2>/dev/null
}

# Seconds to wait for the next plan: until the next signal is due, at most one poll. Once
# a SIGKILL went out no SIGTERM is due any more (send() sends none after it): a plan's TERM
# time that passed unsent, as when the sidecar died before it, must not make the wait 0 and
# the loop spin until the group is gone.
wait_seconds() {
  local poll=$RUNNING_POLL_MS next
  ((exited || term_sent || kill_sent)) && poll=$STOPPING_POLL_MS
  next=$((now + poll))
  ((!term_sent && !kill_sent && term_at < next)) && next=$term_at
  ((!kill_sent && kill_at < next)) && next=$kill_at
  local ms=$((next > now ? next - now : 0))
  printf -v seconds '%d.%03d' $((ms / 1000)) $((ms % 1000))
}

# Take what the sidecar sent: wait at most $seconds for a first character, then read on
# without waiting while more is there, so that of the plans queued behind a watchdog that
# was held back the newest is the one enforced. Fails once stdin closed (the sidecar died).
#
# One character a read, with no delimiter and IFS empty: each character read then comes
# back as it was, also from a read whose wait ran out. Whole lines did not. When the wait
# ran out within a line (this watchdog stopped or starved while it read the line), bash's
# `read -t` handed back the part read with a space at either end trimmed off, or (bash
# before 5.3) took the line's newline and still returned the line as timed out, so that
# the next line was joined to it: either way a plan was lost and the older one stayed in
# force (docs/safety.md, "Findings").
take_input() {
  local char status
  while :; do
    IFS= read -r -n 1 -d '' -t "$seconds" char
    status=$?
    ((status == 0 || status > 128)) || return 1
    if [[ $char == $'\n' ]]; then
      take_plan "$partial"
      partial=''
    else
      partial+=$char
    fi
    ((status == 0)) && read -r -t 0 || return 0
  done
}

if (($# == 0)); then
  echo 'usage: watchdog.bash <command> [args…] (started by leasehold run)' >&2
  exit 2
fi
# The command writes to our stderr (fd 5 from here); bash's own notices ("Killed", for a
# group it killed) must not: they would look like the command's.
exec 5>&2 2>/dev/null
# Given SHELLOPTS or BASHOPTS, bash exports its own options in their place (this watchdog's
# `set -m` among them): a bash script the command runs must not inherit those.
export -n SHELLOPTS BASHOPTS

# The start order; a sidecar gone before it leaves nothing to do.
line=''
until take_plan "$line" && [[ -n $term ]]; do read -r line || exit 0; done
# A watchdog slow to start (a busy host) finds renewals queued behind its start order: the
# start is judged by the newest of them, not refused on the first one's deadline.
while read -r -t 0; do
  read -r line || exit 0
  take_plan "$line"
done
read_clock
if ((now >= term_at)); then
  report '{"event":"failed","message":"the lease ran out before the command could start"}'
  exit 0
fi
LEASEHOLD_TERM=$term "$@" <&4 2>&5 3>&- 4<&- 5>&- &
pid=$!
report "{\"event\":\"started\",\"pid\":$pid}"

partial=''
while :; do
  enforce
  check_exited
  if ((exited || kill_sent)) && ! group_alive; then
    check_exited now
    exit 0
  fi
  wait_seconds
  if ((sidecar_gone)); then
    read -r -t "$seconds" -u "$never" # bash has no sleep of its own
  elif ! take_input; then
    # Our stdin closed: the sidecar died. From now on wait on a pipe nobody writes to.
    sidecar_gone=1
    exec {never}<> <(:)
    send KILL sidecar-gone
  fi
done
