package nbadapter_test

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/proxbox/proxbox/netbox"
)

// The integration suite runs against lab/netbox, or against a real NetBox when
// PROXBOX_TEST_NETBOX_URL and PROXBOX_TEST_NETBOX_TOKEN are set (make
// test-real sets them to the realnetbox kit: NetBox 4.5 with netbox-proxbox
// 0.0.24). PROXBOX_TEST_NETBOX_RESET is a shell command run before every test
// to give it a clean database (the kit's `start.sh reset --dir D`); without
// it the tests share one database and may see each other's objects. Tests
// that need what only the simulator offers (fault injection, its request
// log, a NetBox without the plugin) skip there with the reason.
type realNB struct{ url, token, resetCmd string }

func realNetBox(t testing.TB) realNB {
	t.Helper()
	rn := realNB{url: os.Getenv("PROXBOX_TEST_NETBOX_URL"), token: os.Getenv("PROXBOX_TEST_NETBOX_TOKEN"), resetCmd: os.Getenv("PROXBOX_TEST_NETBOX_RESET")}
	if rn.url != "" && rn.token == "" {
		t.Fatal("PROXBOX_TEST_NETBOX_URL is set without PROXBOX_TEST_NETBOX_TOKEN")
	}
	return rn
}

// reset runs the reset command; a failure fails the test (the kit is there
// but broken).
func (rn realNB) reset(t testing.TB) {
	t.Helper()
	if rn.resetCmd == "" {
		return
	}
	out, err := exec.Command("sh", "-c", rn.resetCmd).CombinedOutput()
	if err != nil {
		t.Fatalf("reset the real NetBox (%s): %v\n%s", rn.resetCmd, err, out)
	}
}

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
