"""The source edit of kube-network-policies (k8snotes.provision.netpol), on its real text."""

from __future__ import annotations

from pathlib import Path

import pytest

from k8snotes.provision import netpol

# Verbatim from sigs.k8s.io/kube-network-policies@v0.8.0 pkg/networkpolicy/controller.go
# (lines 855-874 of syncNFTablesRules); the same four lines open its prerouting rules.
SYNC_RULES = """\
	queue := &expr.Queue{Num: uint16(c.config.QueueID)}
	if c.config.FailOpen {
		queue.Flag = expr.QueueFlagBypass
	}

	// only if no admin network policies are used
	if !c.config.AdminNetworkPolicy && !c.config.BaselineAdminNetworkPolicy {
		// ip saddr @podips-v4 queue flags bypass to 102
		nft.AddRule(&nftables.Rule{
			Table: table,
			Chain: chain,
			Exprs: []expr.Any{
				&expr.Meta{Key: expr.MetaKeyNFPROTO, SourceRegister: false, Register: 0x1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 0x1, Data: []uint8{unix.NFPROTO_IPV4}},
				&expr.Payload{DestRegister: 0x1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
				&expr.Lookup{SourceRegister: 0x1, DestRegister: 0x0, SetName: "podips-v4"},
				queue,
			},
		})
"""

# Verbatim from cmd/main.go of v0.8.0: the flags the stand-in passes.
MAIN_FLAGS = """\
	flag.BoolVar(&failOpen, "fail-open", false, "If set, don't drop packets if the controller is not running")
	flag.IntVar(&queueID, "nfqueue-id", 100, "Number of the nfqueue used")
	flag.StringVar(&metricsBindAddress, "metrics-bind-address", ":9080", "The IP address and port for the metrics server to serve on")
	flag.StringVar(&hostnameOverride, "hostname-override", "", "If non-empty, will be used as the name of the Node that kube-network-policies is running on.")
	flag.BoolVar(&netfilterBug1766Fix, "netfilter-bug-1766-fix", true, "If set, process DNS packets on the PREROUTING hooks")
	flag.BoolVar(&disableNRI, "disable-nri", false, "If set, disable NRI")
"""


def test_the_patch_replaces_exactly_the_two_queue_verdicts() -> None:
    source = "package networkpolicy\n" + SYNC_RULES + "\n// prerouting\n" + SYNC_RULES
    patched = netpol.patch_controller(source)
    assert "expr.Queue" not in patched and "QueueFlagBypass" not in patched
    assert (
        patched.count("queue := k8snotesXtNFQueue(uint16(c.config.QueueID), c.config.FailOpen)")
        == 2
    )
    # Only those lines change: the rules that use the verdict are as they were.
    assert patched.replace(netpol.XT_QUEUE_RULE, netpol.QUEUE_RULE) == source
    assert patched.count("\t\t\t\tqueue,\n") == 2


@pytest.mark.parametrize("copies", [0, 1, 3])
def test_the_patch_fails_unless_the_queue_rule_is_there_twice(copies: int) -> None:
    source = "package networkpolicy\n" + SYNC_RULES * copies
    with pytest.raises(netpol.PatchError, match=f"found it {copies} times"):
        netpol.patch_controller(source)


def test_the_patch_fails_when_the_rule_was_reworded() -> None:
    reworded = SYNC_RULES.replace("expr.Queue{Num:", "expr.Queue{Flag: 0, Num:")
    with pytest.raises(netpol.PatchError, match="found it 0 times"):
        netpol.patch_controller(reworded + reworded)


def test_the_added_go_file_builds_the_xtables_nfqueue_target() -> None:
    go = netpol.XT_NFQUEUE_GO
    assert go.startswith("package networkpolicy\n")
    assert "func k8snotesXtNFQueue(num uint16, bypass bool) *expr.Target" in go
    assert '&expr.Target{Name: "NFQUEUE", Rev: 3, Info: &payload}' in go
    assert "PutUint16(1)" in go  # queues_total


def test_patch_module_edits_a_copy(tmp_path: Path) -> None:
    controller = tmp_path / netpol.CONTROLLER
    controller.parent.mkdir(parents=True)
    controller.write_text("package networkpolicy\n" + SYNC_RULES + SYNC_RULES)
    netpol.patch_module(tmp_path)
    assert "expr.Queue" not in controller.read_text()
    assert (tmp_path / netpol.XT_NFQUEUE_FILE).read_text() == netpol.XT_NFQUEUE_GO


def test_the_stand_ins_flags_are_checked_against_cmd_main_go() -> None:
    netpol.check_flags(MAIN_FLAGS)
    without = "\n".join(line for line in MAIN_FLAGS.splitlines() if '"disable-nri"' not in line)
    with pytest.raises(netpol.PatchError, match="disable-nri"):
        netpol.check_flags(without)
