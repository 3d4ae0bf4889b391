#!/usr/bin/env bash
# make bench-real: proxbox sync --once, first, second and one-change run, against the real NetBox 4.5.10 +
# netbox-proxbox 0.0.24 kit and against lab/netbox, on the same generated Proxmox lab (every
# endpoint it prints, synced inline in one run as a user would; BENCH_ENDPOINTS=first for the
# first one only; BENCH_GUESTS guests, default 60). Prints one markdown table row per run (the
# table in docs/sync.md), with the VMs that have a primary IPv4. Needs root, the kit
# (REALNETBOX_KIT) and jq.
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=0
KIT="${REALNETBOX_KIT:-../shared/realnetbox}"
DIR="${REALNETBOX_DIR:-/var/tmp/rnb-proxbox-bench}"
PORT="${REALNETBOX_PORT:-8045}"
N="${BENCH_GUESTS:-60}"
WHICH="${BENCH_ENDPOINTS:-all}"
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
if [ "$WHICH" = first ]; then pves=$(jq -c '[.pve[0]]' "$lab_json"); else pves=$(jq -c '.pve' "$lab_json"); fi
pve_args=()
while read -r p; do
  pve_args+=(--pve-url "$(jq -r .url <<<"$p")" --pve-token "$(jq -r '.token_id + "=" + .token_secret' <<<"$p")")
done < <(jq -c '.[]' <<<"$pves")
sim_url=$(jq -r .netbox.url "$lab_json"); sim_tok=$(jq -r .netbox.token "$lab_json")
seed() { # the plugin's ProxmoxEndpoint rows, one per endpoint, as a user of 0.0.24 creates them
  local u=$1 t=$2 h=(-s -H "Authorization: Token $2" -H 'Content-Type: application/json' -H 'Accept: application/json')
  local ip; ip=$(curl "${h[@]}" -X POST "$u/api/ipam/ip-addresses/" -d '{"address":"127.0.0.1/32"}' | jq .id)
  local i=0 p
  while read -r p; do
    i=$((i + 1))
    curl "${h[@]}" -X POST "$u/api/plugins/proxbox/endpoints/proxmox/" \
      -d "{\"name\":\"bench-$i\",\"ip_address\":$ip,\"port\":$(jq -r .port <<<"$p"),\"mode\":\"cluster\",\"username\":\"root@pam\"}" >/dev/null
  done < <(jq -c '.[]' <<<"$pves")
}
primary() { # VMs in NetBox with a primary IPv4
  curl -s -H "Authorization: Token $2" -H 'Accept: application/json' "$1/api/virtualization/virtual-machines/?limit=1000&offset=0" |
    jq '[.results[] | select(.primary_ip4 != null)] | length'
}
run() { # label url token run-number
  local s; s=$(./bin/proxbox sync --once --json --netbox-url "$2" --netbox-token "$3" "${pve_args[@]}" --pve-insecure 2>/dev/null || true)
  local pri; pri=$(primary "$2" "$3")
  jq -r --arg l "$1" --arg r "$4" --arg n "$N" --arg e "$(jq length <<<"$pves")" --arg p "$pri" '"| \($n) (\($e) endpoints) | \($l) | \($r) | \(.duration_ms/1000) s | \(.netbox.requests) | \(.netbox.writes) | \(.proxmox.requests) | \(.errors|length) | \(.objects.virtual_machines.created + .objects.virtual_machines.unchanged + .objects.virtual_machines.updated) | \($p) | \((.netbox.batch_sizes // {}) | to_entries | map(select(.value < 200)) | map("\(.key|sub("^/api/";"")|sub("/$";"")) \(.value)") | join(", ")) |"' <<<"$s"
}
"$KIT/start.sh" reset --dir "$DIR" >/dev/null 2>&1
seed "$real_url" "$real_tok"; seed "$sim_url" "$sim_tok"
echo "| guests | NetBox | run | wall | NetBox requests | writes | Proxmox requests | errors | VMs | with primary IPv4 | bulk sizes below 200 |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for r in first second; do run "real 4.5.10 + plugin" "$real_url" "$real_tok" $r; done
for r in first second; do run "lab/netbox" "$sim_url" "$sim_tok" $r; done
# One change, as an operator's `qm set --memory`: the first guest of the first endpoint gets
# 512 MiB more; the next run on each NetBox should write that VM and the task Proxmox logged.
p0=$(jq -c '.pve[0]' "$lab_json")
auth="Authorization: PVEAPIToken=$(jq -r '.token_id + "=" + .token_secret' <<<"$p0")"
g=$(curl -sk -H "$auth" "$(jq -r .url <<<"$p0")/api2/json/cluster/resources?type=vm" | jq -c '.data[0]')
curl -sk -o /dev/null -H "$auth" -H 'Content-Type: application/json' -X POST "$(jq -r .url <<<"$p0")/_lab/mutate" \
  -d "{\"vmid\":$(jq .vmid <<<"$g"),\"memory\":$(( $(jq .maxmem <<<"$g") / 1048576 + 512 ))}"
run "real 4.5.10 + plugin" "$real_url" "$real_tok" "one change"
run "lab/netbox" "$sim_url" "$sim_tok" "one change"
