package nbadapter_test

import (
	"context"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	pvelab "github.com/proxbox/proxbox/lab/pve"
	"github.com/proxbox/proxbox/netbox"
	"github.com/proxbox/proxbox/proxmox"
	pbsync "github.com/proxbox/proxbox/sync"
	"github.com/proxbox/proxbox/sync/nbadapter"
)

// wholeRows is the adapter with every list decoded whole (trimmed), whatever the engine allows.
type wholeRows struct{ nbadapter.Client }

func (w wholeRows) List(ctx context.Context, model string, q url.Values) ([]map[string]any, error) {
	return w.C.ListTrimmed(ctx, model, q)
}

// planLines is a plan as sorted text lines: changes come in map order in places.
func planLines(s *pbsync.Summary) []string {
	var out []string
	for _, c := range s.Plan.Changes {
		out = append(out, fmt.Sprintf("%s %s %s %s #%d %v %s %s", c.Endpoint, c.Op, c.Model, c.Key, c.ID, c.Fields, c.Reason, c.Error))
	}
	for m, n := range s.Plan.Unchanged {
		out = append(out, fmt.Sprintf("unchanged %s %d", m, n))
	}
	slices.Sort(out)
	return out
}

// The state loads' lean objects (brief objects as ids, "" and {} members left out) plan
// exactly what the whole objects plan: updates of references and custom fields, interfaces
// matched by their VM and MAC and renamed (primary_mac_address read), orphans, plugin rows,
// NetBox-side edits put back; and the run that applies it converges, also for a run that
// diffs against its lean create and update replies (State).
func TestLeanStatePlansAsWhole(t *testing.T) {
	pves, err := pvelab.NewLab(pvelab.Options{Scale: 60, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	h := inlineHarness(t, proxmox.FullReadOptions, pves...)
	mustOK(t, h.sync(pbsync.Options{}))
	// Proxmox changes.
	p := pves[0]
	vmid := firstVMID(p)
	if err := p.SetGuestMemory(vmid, 8192); err != nil {
		t.Fatal(err)
	}
	if err := p.RenameGuest(vmid, "renamed-by-test"); err != nil {
		t.Fatal(err)
	}
	if err := p.AddSnapshot(vmid, "lean-test", "", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	for id := vmid + 1; id < vmid+1000; id++ {
		if p.RemoveGuest(id) == nil {
			break
		}
	}
	// NetBox-side edits of references and values.
	vm := h.list(pbsync.ModelVM, url.Values{"limit": {"1"}, "tag": {pbsync.TagProxbox}})[0]
	disk := h.list(pbsync.ModelDisk, url.Values{"limit": {"1"}, "tag": {pbsync.TagProxbox}})[0]
	for model, patch := range map[string]map[string]any{
		pbsync.ModelVM:   {"id": vm["id"], "platform": nil, "vcpus": 97},
		pbsync.ModelDisk: {"id": disk["id"], "size": 1},
	} {
		if r := h.nbc.Update(context.Background(), model, []netbox.Object{patch}); r[0].Err != nil {
			t.Fatalf("update %s: %v", model, r[0].Err)
		}
	}
	// Interfaces named from the config this time: matched by VM and MAC, renamed.
	opt := pbsync.Options{DryRun: true, IgnorePluginSettings: true, Map: pbsync.MapOptions{ConfigInterfaceNames: true}}
	whole := (&pbsync.Engine{NetBox: wholeRows{nbadapter.Client{C: h.nbc}}, Fresh: netbox.FreshRead}).Run(context.Background(), h.tg, opt)
	lean := h.eng.Run(context.Background(), h.tg, opt)
	mustOK(t, whole)
	mustOK(t, lean)
	w, l := planLines(whole), planLines(lean)
	if !reflect.DeepEqual(w, l) {
		t.Errorf("lean plan differs from whole:\n whole %s\n lean  %s", strings.Join(w, "\n       "), strings.Join(l, "\n       "))
	}
	ops := map[string]int{}
	for _, c := range lean.Plan.Changes {
		ops[string(c.Op)+" "+pbsync.TypeName(c.Model)]++
	}
	for _, want := range []string{"update virtual_machines", "update vm_interfaces", "update virtual_disks", "orphan virtual_machines", "create snapshots"} {
		if ops[want] == 0 {
			t.Errorf("the plan has no %q (the test must exercise it): %v", want, ops)
		}
	}
	// Applied with a State, the next run diffs against what this one listed and the lean
	// replies of its creates and updates (it lists nothing): nothing to write. So does a run
	// that lists again.
	opt.DryRun, opt.State = false, pbsync.NewState()
	mustOK(t, h.sync(opt))
	if s := h.sync(opt); !s.OK || s.NetBox.Writes != 0 {
		t.Errorf("warm run after applying: ok %v, %d writes, plan %v", s.OK, s.NetBox.Writes, planLines(s))
	}
	opt.State = nil
	if s := h.sync(opt); !s.OK || s.NetBox.Writes != 0 {
		t.Errorf("second run after applying: ok %v, %d writes", s.OK, s.NetBox.Writes)
	}
}
