package nbadapter_test

import (
	"context"

	"github.com/proxbox/proxbox/netbox"
)

// The integration suite runs against lab/netbox, or against a real NetBox when
// PROXBOX_TEST_NETBOX_URL and PROXBOX_TEST_NETBOX_TOKEN are set (make
// test-real sets them to the realnetbox kit: NetBox 4.5 with netbox-proxbox
// 0.0.24; lab/nbtest reads them, and PROXBOX_TEST_NETBOX_RESET, run before
// every test). Tests that need what only the simulator offers (fault
// injection, its request log, a NetBox without the plugin) skip there with
// the reason.

// needSimulator skips a test against a real NetBox.
func (h *harness) needSimulator(what string) {
	h.t.Helper()
	if h.nb == nil {
		h.t.Skipf("needs lab/netbox's %s: not available on a real NetBox", what)
	}
}

// create POSTs one object through the client (simulator or real NetBox) and
// returns NetBox's reply.
func (h *harness) create(model string, obj map[string]any) map[string]any {
	h.t.Helper()
	r := h.nbc.Create(context.Background(), model, []netbox.Object{obj})
	if r[0].Err != nil {
		h.t.Fatalf("create %s %v: %v", model, obj, r[0].Err)
	}
	return r[0].Object
}
