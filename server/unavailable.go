package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// Routes of the newer plugin (v0.0.24) that proxbox does not provide. Each
// answers in the shape the plugin reports as "not available" instead of a
// bare 404: the reason is in detail, which the plugin shows. docs/api.md
// lists every call with proxbox's answer.

// writer returns the Proxmox writer when the operator allowed writes
// (PROXBOX_PROXMOX_WRITES); otherwise a 403 that names the switch.
func (s *Server) writer() (ProxmoxWriter, error) {
	if !s.cfg.ProxmoxWrites {
		return nil, fail(http.StatusForbidden, writesDisabled)
	}
	w, ok := s.opt.Proxmox.(ProxmoxWriter)
	if !ok {
		return nil, fail(http.StatusNotImplemented, "This proxbox build has no Proxmox writer.")
	}
	return w, nil
}

const writesDisabled = "Writes to Proxmox are disabled: set PROXBOX_PROXMOX_WRITES=true (or --proxmox-writes) to let the plugin change Proxmox."

// refusedWrite answers a write proxbox does not implement: 403 while writes
// are disabled (the operator's switch comes first), else 501.
func (s *Server) refusedWrite(what string) echo.HandlerFunc {
	return func(echo.Context) error {
		if !s.cfg.ProxmoxWrites {
			return fail(http.StatusForbidden, writesDisabled)
		}
		return fail(http.StatusNotImplemented, what+" is not available in proxbox: it syncs Proxmox into NetBox and does not change Proxmox this way.")
	}
}

// notAvailable answers a feature proxbox does not have with status and the
// reason.
func notAvailable(status int, detail string) echo.HandlerFunc {
	return func(echo.Context) error { return fail(status, detail) }
}

// writeRoutes are the plugin's Proxmox writes proxbox does not implement.
var writeRoutes = []struct{ method, path, what string }{
	{http.MethodPost, "/proxmox/firewall/*", "Changing the Proxmox firewall"},
	{http.MethodPut, "/proxmox/firewall/*", "Changing the Proxmox firewall"},
	{http.MethodDelete, "/proxmox/firewall/*", "Changing the Proxmox firewall"},
	{http.MethodPost, "/proxmox/:type/:vmid/:verb", "Starting, stopping or migrating guests"},
	{http.MethodPost, "/proxmox/datacenter/cpu-models", "Changing custom CPU models"},
	{http.MethodPut, "/proxmox/datacenter/cpu-models/:cputype", "Changing custom CPU models"},
	{http.MethodDelete, "/proxmox/datacenter/cpu-models/:cputype", "Changing custom CPU models"},
	{http.MethodPost, "/cloud/vm/provision", "Provisioning virtual machines"},
	{http.MethodPost, "/cloud/lxc/provision", "Provisioning containers"},
	{http.MethodPost, "/cloud/templates/images", "Building templates from cloud images"},
	{http.MethodPost, "/intent/apply", "Applying NetBox intent to Proxmox"},
	{http.MethodPost, "/intent/deletion-requests/:id/execute", "Executing deletion requests"},
	{http.MethodPut, "/intent/tag-pending-deletion", "Tagging guests pending deletion"},
	{http.MethodPut, "/intent/untag-pending-deletion", "Untagging guests pending deletion"},
}

// unavailableRoutes are the plugin's other calls to features proxbox does
// not have: Proxmox Backup Server monitoring, SSH, cloud image templates,
// SDN fabrics, intent planning, the encryption attestation.
var unavailableRoutes = []struct {
	method, path string
	status       int
	detail       string
}{
	{http.MethodGet, "/pbs/status", http.StatusNotImplemented, "Proxmox Backup Server status is not available in proxbox: it does not monitor PBS endpoints."},
	// The plugin reads a 404 here as "the backend does not support host-key scanning".
	{http.MethodGet, "/ssh/host-key-fingerprint", http.StatusNotFound, "SSH host-key scanning is not available in proxbox."},
	{http.MethodPost, "/ssh/sessions", http.StatusNotImplemented, "SSH terminal sessions are not available in proxbox."},
	{http.MethodGet, "/cloud/vm/templates", http.StatusNotImplemented, "Cloud templates are not available in proxbox."},
	{http.MethodGet, "/cloud/lxc/templates", http.StatusNotImplemented, "Cloud templates are not available in proxbox."},
	{http.MethodGet, "/proxmox/sdn/fabrics", http.StatusNotImplemented, "Proxmox SDN is not synced by proxbox."},
	{http.MethodGet, "/proxmox/sdn/route-maps", http.StatusNotImplemented, "Proxmox SDN is not synced by proxbox."},
	{http.MethodGet, "/proxmox/sdn/prefix-lists", http.StatusNotImplemented, "Proxmox SDN is not synced by proxbox."},
	{http.MethodPost, "/intent/plan", http.StatusNotImplemented, "Intent planning is not available in proxbox: it does not change Proxmox from NetBox."},
	{http.MethodGet, "/admin/encryption/status", http.StatusNotImplemented, "The encryption-source attestation is not available in proxbox: its stored credentials are encrypted with PROXBOX_ENCRYPTION_KEY, not with the plugin's key."},
}

func (s *Server) unavailableRoutes() {
	for _, r := range writeRoutes {
		s.e.Add(r.method, r.path, s.refusedWrite(r.what))
	}
	for _, r := range unavailableRoutes {
		s.e.Add(r.method, r.path, notAvailable(r.status, r.detail))
	}
}
