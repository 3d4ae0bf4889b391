package ui

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/proxbox/proxbox/certs"
	"github.com/proxbox/proxbox/inventory"
	"github.com/proxbox/proxbox/store"
	pbsync "github.com/proxbox/proxbox/sync"
)

type endpointRow struct {
	Kind     string // proxmox | netbox
	ID       int64
	Name     string
	Label    string // a Proxmox endpoint's identity in NetBox (proxmox_endpoint of its cluster)
	Address  string
	AuthKey  string // catalogue key of the authentication, with AuthArg
	AuthArg  string
	Secrets  []secretState
	VerifyTL bool
}

type secretState struct {
	Name string
	Set  bool
}

type overviewVM struct {
	NetBox     []endpointRow
	Proxmox    []endpointRow
	CanProbe   bool
	LastRun    *runRow
	Running    bool
	SyncWired  bool
	Errors     []store.LogEntry
	TLS        tlsVM
	CacheOn    bool
	CacheStats string
	Inventory  []invRow
	Scheduled  bool      // PROXBOX_SYNC_INTERVAL is set
	NextSync   time.Time // when the next scheduled sync starts
	NextIn     string
	WatchOn    bool
	Watch      []watchRow
}

// WatchStatus is one watched endpoint as the overview shows it.
type WatchStatus struct {
	Endpoint       string
	Watching       bool
	LastError      string
	LastChange     []string
	LastChangeSeen time.Time     // zero: no change seen yet
	LastDelay      time.Duration // from the change to NetBox
	DriftedSince   time.Time     // zero: NetBox holds every change seen
}

type watchRow struct {
	WatchStatus
	Seen, Delay, Change string
	Drifted             string // when NetBox started to lag behind a seen change ("" when it does not)
}

func netboxRow(e store.NetBoxEndpoint) endpointRow {
	r := endpointRow{Kind: "netbox", ID: e.ID, Name: e.Name, Address: hostPort(e.Domain, e.IPAddress, e.Port), AuthKey: "auth.netbox", AuthArg: e.TokenVersion, VerifyTL: e.VerifySSL}
	r.Secrets = []secretState{{"token", e.Token.IsSet()}}
	if e.TokenVersion == "v2" {
		r.Secrets = append(r.Secrets, secretState{"token_key", e.TokenKey.IsSet()})
	}
	return r
}

func proxmoxRow(e store.ProxmoxEndpoint) endpointRow {
	r := endpointRow{Kind: "proxmox", ID: e.ID, Name: e.Name, Address: hostPort(e.Domain, e.IPAddress, e.Port), VerifyTL: e.VerifySSL,
		Label: pbsync.EndpointLabel(inventory.Endpoint{ID: e.ID, Name: e.Name, Key: e.Key, Host: e.IPAddress})}
	if e.TokenName != "" {
		r.AuthKey, r.AuthArg = "auth.pveToken", e.Username+"!"+e.TokenName
	} else {
		r.AuthKey, r.AuthArg = "auth.password", e.Username
	}
	r.Secrets = []secretState{{"password", e.Password.IsSet()}, {"token_value", e.TokenValue.IsSet()}}
	return r
}

func (h *Dashboard) endpointRows(ctx context.Context) (nb, px []endpointRow, err error) {
	nbs, err := h.d.Store.NetBoxEndpoints(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range nbs {
		nb = append(nb, netboxRow(e))
	}
	pxs, err := h.d.Store.ProxmoxEndpoints(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range pxs {
		px = append(px, proxmoxRow(e))
	}
	return nb, px, nil
}

func (h *Dashboard) overview(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	vm := overviewVM{CanProbe: h.d.Tester != nil, SyncWired: h.d.Sync != nil, TLS: h.tlsView(ctx), CacheOn: h.d.Cache != nil}
	var err error
	if vm.NetBox, vm.Proxmox, err = h.endpointRows(ctx); err != nil {
		h.fail(w, r, "list endpoints", err)
		return
	}
	runs, err := h.d.Store.Runs(ctx, 30)
	if err != nil {
		h.fail(w, r, "list runs", err)
		return
	}
	vm.Inventory = inventoryRows(runs)
	if h.d.NextSync != nil {
		vm.NextSync = h.d.NextSync()
		vm.Scheduled = !vm.NextSync.IsZero()
		vm.NextIn = h.untilText(ctx, vm.NextSync)
	}
	if h.d.Watch != nil {
		vm.WatchOn = true
		for _, w := range h.d.Watch() {
			row := watchRow{WatchStatus: w, Change: strings.Join(w.LastChange, ", ")}
			if !w.LastChangeSeen.IsZero() {
				row.Seen, row.Delay = when(w.LastChangeSeen), dur(w.LastDelay)
			}
			if !w.DriftedSince.IsZero() {
				row.Drifted = when(w.DriftedSince)
			}
			vm.Watch = append(vm.Watch, row)
		}
	}
	if len(runs) > 0 {
		row := toRunRow(runs[0], h.now())
		vm.LastRun, vm.Running = &row, row.Running
	}
	vm.Errors, _, err = h.d.Store.Logs(ctx, store.LogFilter{Levels: []string{"ERROR"}, Limit: 5})
	if err != nil {
		h.fail(w, r, "read recent errors", err)
		return
	}
	if h.d.Cache != nil {
		st := h.d.Cache.Stats()
		vm.CacheStats = h.trf(r, "overview.cacheStats", st.Hits, st.Misses, st.Bypassed, st.Entries, bytesHuman(st.Bytes))
	}
	h.render(w, r, http.StatusOK, overviewPage(h.pageCtx(r, h.tr(r, "nav.overview"), "overview"), vm))
}

// probe answers the overview's lazy reachability check of one endpoint.
func (h *Dashboard) probe(w http.ResponseWriter, r *http.Request) {
	res := h.testEndpoint(r.Context(), r.PathValue("kind"), r.PathValue("id"))
	h.render(w, r, http.StatusOK, probeResult(res))
}

type probeRes struct {
	OK      bool
	Text    string
	Version string
}

// testEndpoint runs the Tester against one stored endpoint, bounded to 15 s.
func (h *Dashboard) testEndpoint(ctx context.Context, kind, idText string) probeRes {
	if h.d.Tester == nil {
		return probeRes{Text: t(ctx, "endpoints.noTester")}
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil {
		return probeRes{Text: t(ctx, "probe.unknown")}
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var version string
	switch kind {
	case "proxmox":
		e, gerr := h.d.Store.ProxmoxEndpoint(ctx, id)
		if gerr != nil {
			return probeRes{Text: t(ctx, "probe.unknown")}
		}
		version, err = h.d.Tester.TestProxmox(ctx, e)
	case "netbox":
		e, gerr := h.d.Store.NetBoxEndpoint(ctx, id)
		if gerr != nil {
			return probeRes{Text: t(ctx, "probe.unknown")}
		}
		version, err = h.d.Tester.TestNetBox(ctx, e)
	default:
		return probeRes{Text: t(ctx, "probe.unknown")}
	}
	if err != nil {
		return probeRes{Text: tf(ctx, "probe.unreachable", err.Error())}
	}
	return probeRes{OK: true, Text: t(ctx, "probe.reachable"), Version: version}
}

type tlsVM struct {
	Enabled     bool
	Status      certs.Status
	ExpiresIn   string
	ExpiresSoon bool
	HasRoot     bool
}

func (h *Dashboard) tlsView(ctx context.Context) tlsVM {
	if h.d.TLS == nil {
		return tlsVM{}
	}
	st := h.d.TLS.Status()
	vm := tlsVM{Enabled: true, Status: st, HasRoot: len(h.d.TLS.RootPEM()) > 0}
	if !st.NotAfter.IsZero() {
		left := st.NotAfter.Sub(h.now())
		vm.ExpiresIn = (left.Round(time.Hour)).String()
		if days := int(left.Hours() / 24); days >= 2 {
			vm.ExpiresIn = tf(ctx, "tls.days", days)
		}
		// certmagic renews local and ACME leaves (7 days for the local CA) when a
		// third of their life is left; only a leaf that is still this close to
		// its end has failed to renew. Files are the operator's to renew.
		soon := 14 * 24 * time.Hour
		if st.Mode == certs.ModeLocal || st.Mode == certs.ModeACME {
			soon = 48 * time.Hour
		}
		vm.ExpiresSoon = left < soon
	}
	return vm
}

func (h *Dashboard) tlsPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, tlsPage(h.pageCtx(r, "TLS", "tls"), h.tlsView(r.Context())))
}

// tlsEventText words the last certificate event in the page's language
// (the raw description for an event kind the catalogue does not know).
func tlsEventText(ctx context.Context, st certs.Status) string {
	ev := st.LastEventInfo
	key := "tls.event." + ev.Kind
	if _, ok := msgEN[key]; !ok || ev.Kind == "" {
		return st.LastEvent
	}
	s := tf(ctx, key, ev.Identifier)
	if ev.Issuer != "" {
		s += " " + tf(ctx, "tls.eventIssuer", ev.Issuer)
	}
	if ev.Error != "" {
		s += ": " + ev.Error
	}
	return s
}

// untilText says how far t is from now ("in 4m10s"; "due" when past).
func (h *Dashboard) untilText(ctx context.Context, at time.Time) string {
	d := at.Sub(h.now()).Round(time.Second)
	if d <= 0 {
		return t(ctx, "overview.due")
	}
	return tf(ctx, "tls.in", d.String())
}
