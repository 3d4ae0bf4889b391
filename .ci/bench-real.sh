#!/usr/bin/env bash
# make bench-real: proxbox sync --once, first and second run, against the real NetBox 4.5.10 +
# netbox-proxbox 0.0.24 kit and against lab/netbox, on the same generated Proxmox lab (first
# endpoint only; BENCH_GUESTS guests, default 60). Prints one markdown table row per run
# (the table in docs/sync.md). Needs root, the kit (REALNETBOX_KIT) and jq.
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=0
KIT="${REALNETBOX_KIT:-../shared/realnetbox}"
DIR="${REALNETBOX_DIR:-/var/tmp/rnb-proxbox-bench}"
PORT="${REALNETBOX_PORT:-8045}"
N="${BENCH_GUESTS:-60}"
PVE_PORT="${BENCH_PVE_PORT:-18406}"
SIM_PORT="${BENCH_SIM_PORT:-18480}"
make -s build
out=$("$KIT/start.sh" --version 4.5 --port "$PORT" --dir "$DIR" 2>/dev/null)
real_url=$(jq -r .url <<<"$out"); real_tok=$(jq -r .token <<<"$out")
lab_json=$(mktemp)
./bin/proxbox lab --scale "$N" --pve-listen "127.0.0.1:$PVE_PORT" --netbox-listen "127.0.0.1:$SIM_PORT" >"$lab_json" 2>/dev/null &
lab_pid=$!
trap 'kill $lab_pid 2>/dev/null || true; "$KIT/start.sh" stop --dir "$DIR" >/dev/null 2>&1 || true; rm -f "$lab_json"' EXIT
for _ in $(seq 100); do [ -s "$lab_json" ] && break; sleep 0.2; done
pve=$(jq -c '.pve[0]' "$lab_json")
sim_url=$(jq -r .netbox.url "$lab_json"); sim_tok=$(jq -r .netbox.token "$lab_json")
seed() { # the plugin's ProxmoxEndpoint row, as a user of 0.0.24 creates it
  local u=$1 t=$2 h=(-s -H "Authorization: Token $2" -H 'Content-Type: application/json' -H 'Accept: application/json')
  local ip; ip=$(curl "${h[@]}" -X POST "$u/api/ipam/ip-addresses/" -d '{"address":"127.0.0.1/32"}' | jq .id)
  curl "${h[@]}" -X POST "$u/api/plugins/proxbox/endpoints/proxmox/" \
    -d "{\"name\":\"bench\",\"ip_address\":$ip,\"port\":$PVE_PORT,\"mode\":\"cluster\",\"username\":\"root@pam\"}" >/dev/null
}
run() { # label url token run-number
  local s; s=$(./bin/proxbox sync --once --json --netbox-url "$2" --netbox-token "$3" \
    --pve-url "$(jq -r .url <<<"$pve")" --pve-token "$(jq -r '.token_id + "=" + .token_secret' <<<"$pve")" --pve-insecure 2>/dev/null || true)
  jq -r --arg l "$1" --arg r "$4" --arg n "$N" '"| \($n) | \($l) | \($r) | \(.duration_ms/1000) s | \(.netbox.requests) | \(.netbox.writes) | \(.proxmox.requests) | \(.errors|length) | \(.objects.virtual_machines.created + .objects.virtual_machines.unchanged + .objects.virtual_machines.updated) | \((.netbox.batch_sizes // {}) | to_entries | map(select(.value < 200)) | map("\(.key|sub("^/api/";"")|sub("/$";"")) \(.value)") | join(", ")) |"' <<<"$s"
}
"$KIT/start.sh" reset --dir "$DIR" >/dev/null 2>&1
seed "$real_url" "$real_tok"; seed "$sim_url" "$sim_tok"
echo "| guests | NetBox | run | wall | NetBox requests | writes | Proxmox requests | errors | VMs | bulk sizes below 200 |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for r in first second; do run "real 4.5.10 + plugin" "$real_url" "$real_tok" $r; done
for r in first second; do run "lab/netbox" "$sim_url" "$sim_tok" $r; done
