#!/usr/bin/env bash
# The policy compiler's golden files (tests/data/policy_*.nft, pinned by the
# unit test test_policy_nft) against a real kernel, in one namespace of our
# own:
#   - each, inside gatewayd's own table (tests/data/nft_dual_any.nft) with
#     its owner flag, passes `nft -c` (the kernel checks it, commits nothing):
#     the names fit beside the gateway's and every statement is valid;
#   - the re-apply transaction keeps the stateful objects: a counter's packets
#     and a flow-count set's elements survive re-applying the same policy and
#     moving to another one that still has them, while the objects only the
#     old policy had go, and the new ones come.
# The tables here have no owner flag, so they outlive each nft command (the
# transactions' own owner flag is taken out for them).
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"

DATA=$EG_REPO/tests/data
NS=$EG_PREFIX-pol
pol() { n "$NS" "$@"; }
ns_add "$NS"

# gateway_table [noowner]: the gateway's table without its closing brace.
gateway_table() {
	if [[ ${1:-} == noowner ]]; then
		sed -e '$d' -e '/flags owner/d' "$DATA/nft_dual_any.nft"
	else
		sed '$d' "$DATA/nft_dual_any.nft"
	fi
}

log "every golden file loads inside the gateway's table (nft -c)"
for golden in "$DATA"/policy_*.nft; do
	name=${golden##*/}
	case $name in
	policy_reapply*.nft) continue ;; # transactions, below
	esac
	{
		gateway_table
		cat "$golden"
		echo "}"
	} >"$EG_DIR/$name"
	pol nft -c -f "$EG_DIR/$name" || die "$name does not load"
	echo "$name: ok"
done

log "the re-apply transactions pass nft -c after the example policy, owner flag on"
for golden in "$DATA"/policy_reapply*.nft; do
	name=${golden##*/}
	{
		gateway_table
		cat "$DATA/policy_example.nft"
		echo "}"
		cat "$golden"
	} >"$EG_DIR/check-$name"
	pol nft -c -f "$EG_DIR/check-$name" || die "$name does not apply"
	echo "$name: ok"
done

# packets NAME: the packet count of counter NAME.
packets() {
	pol nft list counter inet egress "$1" | awk '$1 == "packets" { print $2 }'
}
# has KIND NAME: whether the table holds that object.
has() { pol nft list "$1" inet egress "$2" >/dev/null 2>&1; }
# listing KIND NAME TEXT: whether nft's listing of the object contains TEXT
# (read whole: grep -q would close the pipe early, and pipefail sees a SIGPIPE).
listing() {
	local out
	out=$(pol nft list "$1" inet egress "$2")
	[[ $out == *"$3"* ]]
}

log "the example policy, with counts and flows as if it had run a while"
{
	gateway_table noowner
	# declared first, with values: the policy's own declarations keep them
	printf '\tcounter policy_default { packets 5 bytes 500 }\n'
	printf '\tcounter rule_no-metadata { packets 7 bytes 700 }\n'
	cat "$DATA/policy_example.nft"
	echo "}"
} >"$EG_DIR/start.nft"
pol nft -f "$EG_DIR/start.nft"
pol nft add element inet egress flows_bob_500 '{ 0x45670003 }'
[[ $(packets rule_no-metadata) == 7 ]] || die "the preset counter did not take"

log "re-applying the same policy keeps counters and flow counts"
sed '/flags owner/d' "$DATA/policy_reapply_same.nft" | pol nft -f -
[[ $(packets rule_no-metadata) == 7 ]] || die "rule_no-metadata was reset: $(packets rule_no-metadata)"
[[ $(packets policy_default) == 5 ]] || die "policy_default was reset"
listing set flows_bob_500 0x45670003 || die "flows_bob_500 lost its element"
listing chain fwd_bob rule_eng-web || die "fwd_bob lost its rules"

log "moving to another policy keeps what both have, drops what only the old one had"
sed '/flags owner/d' "$DATA/policy_reapply.nft" | pol nft -f -
[[ $(packets policy_default) == 5 ]] || die "policy_default was reset"
for gone in "counter rule_no-metadata" "counter rule_eng-web" "set flows_bob_500" \
	"limit bw_up_alice_6250000" "chain bw_up_alice" "set rule_eng-web_to4"; do
	# shellcheck disable=SC2086 # KIND NAME, two words
	if has $gone; then die "$gone is still there"; fi
done
for new in "counter rule_lab.v6" "set flows_bob_64" "limit bw_down_carol_125000000" \
	"chain policy_in_2" "set rule_lan_10_to4"; do
	# shellcheck disable=SC2086
	has $new || die "$new is missing"
done
# carol is the only client named by the rules of policy_in_2
listing map policy_in_clients "0x45670004 : goto policy_in_2" || die "carol does not go to policy_in_2"
# the gateway's own chains are untouched
listing chain forward @client_mark || die "the gateway's forward chain changed"
echo "ok"
