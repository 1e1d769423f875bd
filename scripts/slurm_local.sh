#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for testing the Snakemake SLURM profile for real.
# Idempotent: installs slurm-wlm and munge if missing, (re)writes /etc/slurm/{slurm,gres}.conf,
# starts munged, slurmctld and slurmd unless they already answer, and waits until the node is idle.
# Partitions: `cpu` (default) and `gpu`; the node advertises one fake GRES gpu (backed by /dev/null,
# no real device) so that `--gres=gpu:1` jobs schedule. No accounting (sacct): poll with squeue.
# Run as root. Usage: scripts/slurm_local.sh [start|stop]; `stop` ends only the daemons `start` started
# (listed in $STARTED), so a cluster that was already running is left alone.
set -euo pipefail

STARTED=/run/tada-slurm-started
if [ "${1:-start}" = stop ]; then
  [ -f "$STARTED" ] || exit 0
  while read -r daemon pidfile; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null && echo "stopped $daemon" || true
  done < "$STARTED"
  rm -f "$STARTED"
  exit 0
fi

NODE=$(hostname -s)
CPUS=$(nproc)
# at least 64 GB advertised (SlurmdParameters=config_overrides; memory is not enforced) so that the
# profile's GPU-rule memory requests schedule on a small test machine
MEM_MB=$(awk '/MemTotal/ {m = int($2 / 1024 * 0.9); print (m > 65536 ? m : 65536)}' /proc/meminfo)

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge /var/lib/munge /var/log/munge
CONF_NEW=$(mktemp)
cat > "$CONF_NEW" <<CONF
ClusterName=local
SlurmctldHost=${NODE}
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SchedulerParameters=sched_interval=2
SlurmdParameters=config_overrides
NodeName=${NODE} CPUs=${CPUS} RealMemory=${MEM_MB} Gres=gpu:1 State=UNKNOWN
PartitionName=cpu Nodes=${NODE} Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=${NODE} MaxTime=INFINITE State=UP
CONF
echo "NodeName=${NODE} Name=gpu File=/dev/null" > /etc/slurm/gres.conf
CHANGED=0
cmp -s "$CONF_NEW" /etc/slurm/slurm.conf || { install -m 644 "$CONF_NEW" /etc/slurm/slurm.conf; CHANGED=1; }
rm -f "$CONF_NEW"

chown munge:munge /run/munge /var/lib/munge /var/log/munge /etc/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
  fi
  runuser -u munge -- munged
  echo "munged /run/munge/munged.pid" >> "$STARTED"
fi

if scontrol ping 2>/dev/null | grep -q "is UP"; then
  [ "$CHANGED" = 0 ] || scontrol reconfigure
else
  slurmctld
  echo "slurmctld /run/slurmctld.pid" >> "$STARTED"
fi
for _ in $(seq 30); do scontrol ping 2>/dev/null | grep -q "is UP" && break; sleep 1; done
if ! { [ -f /run/slurmd.pid ] && kill -0 "$(cat /run/slurmd.pid)" 2>/dev/null; }; then
  slurmd
  echo "slurmd /run/slurmd.pid" >> "$STARTED"
fi

for _ in $(seq 30); do
  state=$(sinfo -h -n "${NODE}" -o %t 2>/dev/null | head -1)
  case "$state" in
    idle|mix|alloc) sinfo; exit 0 ;;
    down*|drain*) scontrol update NodeName="${NODE}" State=RESUME 2>/dev/null || true ;;
  esac
  sleep 1
done
echo "slurm node ${NODE} did not become idle (state: ${state:-none}); see /var/log/slurm/" >&2
exit 1
