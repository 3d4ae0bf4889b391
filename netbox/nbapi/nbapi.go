// Package nbapi reads NetBox through go-netbox (github.com/netbox-community/go-netbox/v4
// v4.3.0), the generated client the design asks for. It is the only package that imports
// go-netbox, and it is small on purpose: go-netbox compiles to a 275 MB archive, so only the
// binary (cmd/proxbox) and this package's tests link it; netbox/, the sync engine, syncrun and
// the server are built and tested without it.
//
// Requests go through a netbox.Client: its HTTPClient (headers, TLS, timeout, request counters,
// GET cache) and its Read (concurrency bound, retries with backoff, *netbox.APIError). Only
// answers whose go-netbox model is a free-form object are decoded by go-netbox; NetBox objects
// stay raw JSON in package netbox, because an enum value missing from go-netbox's 4.3 schema
// makes a whole page fail to decode (see netbox's package doc).
//
// It owns netbox/nbapi. It must not import the store, the sync engine or the server.
package nbapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	gonetbox "github.com/netbox-community/go-netbox/v4"

	"github.com/proxbox/proxbox/netbox"
)

// Status is NetBox's GET /api/status/.
type Status struct {
	NetBoxVersion     string            `json:"netbox-version"`
	NetBoxFullVersion string            `json:"netbox-full-version,omitempty"`
	DjangoVersion     string            `json:"django-version,omitempty"`
	PythonVersion     string            `json:"python-version,omitempty"`
	Plugins           map[string]string `json:"plugins"`
	RQWorkersRunning  int               `json:"rq-workers-running"`
	Raw               netbox.Object     `json:"-"` // the whole answer
}

// api builds go-netbox's client over c's connection and headers.
func api(c *netbox.Client) *gonetbox.APIClient {
	cfg := gonetbox.NewConfiguration()
	cfg.Servers[0].URL = c.URL()
	cfg.HTTPClient = c.HTTPClient()
	return gonetbox.NewAPIClient(cfg)
}

// ReadStatus reads /api/status/ through go-netbox's StatusAPI (the answer is a free-form
// object in the 4.3 schema, so it decodes whatever NetBox sends), retried as every read of c is.
// The dashboard's "test connection" uses it.
func ReadStatus(ctx context.Context, c *netbox.Client) (Status, error) {
	nb := api(c)
	var raw map[string]any
	err := c.Read(ctx, http.MethodGet, "/api/status/", func(ctx context.Context) (int, http.Header, []byte, error) {
		r, resp, err := nb.StatusAPI.StatusRetrieve(ctx).Execute()
		if resp == nil {
			return 0, nil, nil, err
		}
		var body []byte
		var oe *gonetbox.GenericOpenAPIError
		if errors.As(err, &oe) {
			body = oe.Body()
		}
		raw = r
		return resp.StatusCode, resp.Header, body, err
	})
	if err != nil {
		return Status{}, fmt.Errorf("netbox status: %w", err)
	}
	return decodeStatus(raw), nil
}

func decodeStatus(raw map[string]any) Status {
	st := Status{Raw: raw, Plugins: map[string]string{}}
	str := func(k string) string { s, _ := raw[k].(string); return s }
	st.NetBoxVersion = str("netbox-version")
	st.NetBoxFullVersion = str("netbox-full-version")
	st.DjangoVersion = str("django-version")
	st.PythonVersion = str("python-version")
	if n, ok := raw["rq-workers-running"].(float64); ok {
		st.RQWorkersRunning = int(n)
	}
	if p, ok := raw["plugins"].(map[string]any); ok {
		for k, v := range p {
			s, _ := v.(string)
			st.Plugins[k] = s
		}
	}
	return st
}
